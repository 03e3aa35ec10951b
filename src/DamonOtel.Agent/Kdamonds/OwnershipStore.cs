using System.Text.Json;
using System.Text.Json.Serialization;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>One kdamond this agent started: enough to recognise it after a crash.</summary>
internal sealed record OwnedKdamond(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kdamond_pid")] int KdamondPid,
    [property: JsonPropertyName("spec_hash")] string SpecHash);

/// <summary>The file under the state dir; the agent's pid says which agent wrote it.</summary>
/// <param name="ModulesSwitchedOff">Exclusive DAMON modules (damon_stat, ...) this agent switched
/// off to run its kdamonds (kernel_modules.take_over): switched back on at the next clean stop,
/// also by an agent restarted after a crash.</param>
internal sealed record OwnershipRecord(
    [property: JsonPropertyName("agent_pid")] int AgentPid,
    [property: JsonPropertyName("kdamonds")] IReadOnlyList<OwnedKdamond> Kdamonds,
    [property: JsonPropertyName("modules_switched_off")] IReadOnlyList<string>? ModulesSwitchedOff = null);

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
