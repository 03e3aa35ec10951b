using System.Text.Json;
using System.Text.Json.Serialization;
using DamonOtel.Damon.IO;

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
/// Records which kdamonds this agent started (state_dir/kdamonds.json), so that a restart after
/// a crash re-adopts them instead of failing with EBUSY, and so that the agent never mistakes
/// somebody else's kdamond for its own. The state dir is private (<see cref="PrivateDirectory"/>:
/// 0700, the file 0600, replaced atomically through an O_EXCL temporary file). A record that
/// cannot be read or is not a valid record is a <see cref="SafeFileException"/> naming the file;
/// callers then own nothing, the safe side.
/// </summary>
internal sealed class OwnershipStore(string stateDir)
{
    public const string FileName = "kdamonds.json";

    /// <summary>A record lists a handful of kdamonds; anything near this is not one of ours.</summary>
    public const int MaxFileBytes = 1 << 20;

    private readonly PrivateDirectory directory = new(stateDir);

    public string FilePath { get; } = Path.Combine(stateDir, FileName);

    /// <summary>The record, or null when there is none; throws <see cref="SafeFileException"/> when it is unusable.</summary>
    public OwnershipRecord? Load()
    {
        SafeFileContent? content = directory.ReadFile(FileName, MaxFileBytes);
        if (content is null)
        {
            return null;
        }

        OwnershipRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(content.Bytes, OwnershipJsonContext.Default.OwnershipRecord);
        }
        catch (JsonException e)
        {
            throw new SafeFileException(FilePath, "not an ownership record: " + e.Message.ReplaceLineEndings(" "));
        }

        return Validate(record);
    }

    public void Save(OwnershipRecord record) =>
        directory.WriteFile(FileName, JsonSerializer.SerializeToUtf8Bytes(record, OwnershipJsonContext.Default.OwnershipRecord));

    public void Clear() => directory.DeleteFile(FileName);

    // JSON that parses can still lack fields or hold nulls ({"agent_pid":1}, {"kdamonds":[null]}).
    private OwnershipRecord Validate(OwnershipRecord? record)
    {
        if (record?.Kdamonds is not IReadOnlyList<OwnedKdamond?> kdamonds)
        {
            throw Invalid(record is null ? "holds null, not an ownership record" : "has no \"kdamonds\" list");
        }

        for (int i = 0; i < kdamonds.Count; i++)
        {
            string? problem = kdamonds[i] switch
            {
                null => $"kdamonds[{i}] is null",
                { Index: < 0 } k => $"kdamonds[{i}].index {k.Index} is negative",
                { Name: null } => $"kdamonds[{i}] has no name",
                { SpecHash: null } => $"kdamonds[{i}] has no spec_hash",
                _ => null,
            };
            if (problem is not null)
            {
                throw Invalid(problem);
            }
        }

        return record;
    }

    private SafeFileException Invalid(string problem) => new(FilePath, problem + " (not written by this agent?)");
}
