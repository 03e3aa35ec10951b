using System.Text.Json;
using System.Text.Json.Serialization;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>One kdamond this agent started: enough to recognise it after a crash.</summary>
internal sealed record OwnedKdamond(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kdamond_pid")] int KdamondPid,
    [property: JsonPropertyName("spec_hash")] string SpecHash,
    [property: JsonPropertyName("targets")] IReadOnlyList<OwnedTarget>? Targets = null);

/// <summary>
/// One entry of the kernel's target list: which configured target (by name; null for a
/// tombstone) and which process (pid and start time, so that a restart never takes a reused pid
/// for the process the kernel holds).
/// </summary>
internal sealed record OwnedTarget(
    [property: JsonPropertyName("target")] string? Target,
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("start_ticks")] ulong StartTicks);

/// <summary>The file under the state dir; the agent's pid says which agent wrote it.</summary>
internal sealed record OwnershipRecord(
    [property: JsonPropertyName("agent_pid")] int AgentPid,
    [property: JsonPropertyName("kdamonds")] IReadOnlyList<OwnedKdamond> Kdamonds);

[JsonSerializable(typeof(OwnershipRecord))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class OwnershipJsonContext : JsonSerializerContext;

/// <summary>
/// Records which kdamonds this agent started (state_dir/kdamonds.json, written atomically), so
/// that a restart after a crash re-adopts them instead of failing with EBUSY, and so that the
/// agent never mistakes somebody else's kdamond for its own.
/// </summary>
internal sealed class OwnershipStore(string stateDir)
{
    public string FilePath { get; } = Path.Combine(stateDir, "kdamonds.json");

    public OwnershipRecord? Load()
    {
        try
        {
            using FileStream s = File.OpenRead(FilePath);
            return JsonSerializer.Deserialize(s, OwnershipJsonContext.Default.OwnershipRecord);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        catch (JsonException)
        {
            // A torn or foreign file: treat as "we own nothing" (the safe side).
            return null;
        }
    }

    public void Save(OwnershipRecord record)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        string tmp = FilePath + ".tmp";
        using (FileStream s = File.Create(tmp))
        {
            JsonSerializer.Serialize(s, record, OwnershipJsonContext.Default.OwnershipRecord);
        }

        File.Move(tmp, FilePath, overwrite: true);
    }

    public void Clear()
    {
        try
        {
            File.Delete(FilePath);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
