using System.Globalization;
using System.Text;
using DamonOtel.Agent.Cli;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Interop;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// POST /record?kdamond=NAME&amp;duration=30s[&amp;source=auto|tracepoint|tried_regions] on the metrics
/// listener (so behind its web_config TLS and basic auth; the plain health listener never serves
/// it): starts a <see cref="RegionRecorder"/> capture in the background and answers 202 with the
/// record file's path. One capture at a time (409 while one runs); 404 while
/// exporters.prometheus.record.enabled is false (read per request, so a reload turns it on or off).
/// The capture runs against the agent's own kernel environment and state commands; tried_regions
/// is allowed on the agent's kdamonds, and on others' only with attach.refresh, like `damon-otel record`.
/// </summary>
internal sealed partial class RecordEndpoint(AgentRunner runner, KernelEnvironment env, ILogger logger, CancellationToken stopping)
{
    public const string Path = "/record";

    private readonly object gate = new();
    private Task? running;
    private int busy;

    /// <summary>The capture in progress, or a completed task (tests and shutdown wait on it).</summary>
    public Task Current
    {
        get
        {
            lock (gate)
            {
                return running ?? Task.CompletedTask;
            }
        }
    }

    public async Task HandleAsync(HttpContext ctx)
    {
        RecordEndpointConfig cfg = runner.Config.Prometheus.Record;
        if (!cfg.Enabled)
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!HttpMethods.IsPost(ctx.Request.Method))
        {
            ctx.Response.Headers.Allow = "POST";
            await Reply(ctx, StatusCodes.Status405MethodNotAllowed, "record: use POST").ConfigureAwait(false);
            return;
        }

        if (!TryParse(ctx.Request.Query, cfg, out RecordRequest? request, out string error))
        {
            await Reply(ctx, StatusCodes.Status400BadRequest, "record: " + error).ConfigureAwait(false);
            return;
        }

        // One capture at a time: taken here, given back when the capture ends (or never starts).
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0)
        {
            await Reply(ctx, StatusCodes.Status409Conflict, "record: a capture is already running; one at a time").ConfigureAwait(false);
            return;
        }

        string file;
        try
        {
            file = PrepareFile(cfg.Dir, request.Name, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Volatile.Write(ref busy, 0);
            LogFailed(logger, request.Name, e.Message);
            await Reply(ctx, StatusCodes.Status500InternalServerError, $"record: cannot use {cfg.Dir}: {e.Message}").ConfigureAwait(false);
            return;
        }

        lock (gate)
        {
            running = Task.Run(() => CaptureAsync(request, file), CancellationToken.None);
        }

        await Reply(ctx, StatusCodes.Status202Accepted, file).ConfigureAwait(false);
    }

    /// <summary>Record file name: the kdamond's name (file-safe) and the UTC start, e.g. system-20261207T012345Z.data.</summary>
    internal static string FileName(string kdamond, DateTime utc)
    {
        var safe = new StringBuilder(kdamond.Length);
        foreach (char c in kdamond)
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }

        return safe.Append('-').Append(utc.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)).Append(".data").ToString();
    }

    private static string PrepareFile(string dir, string kdamond, DateTime utc)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("record directories are created with Unix permissions");
        }

        // 0700: record files show processes' memory layouts (the files themselves are 0600).
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string path = System.IO.Path.Combine(dir, FileName(kdamond, utc));
        // Two captures within one second of the same kdamond: keep both.
        for (int n = 2; File.Exists(path); n++)
        {
            path = System.IO.Path.Combine(dir, System.IO.Path.GetFileNameWithoutExtension(FileName(kdamond, utc)) + "-" + n.ToString(CultureInfo.InvariantCulture) + ".data");
        }

        return path;
    }

    private bool TryParse(IQueryCollection query, RecordEndpointConfig cfg, out RecordRequest request, out string error)
    {
        request = null!;
        string? name = query["kdamond"];
        if (string.IsNullOrEmpty(name))
        {
            error = "kdamond=NAME is required (the name in the agent's config, or an index under kdamonds/)";
            return false;
        }

        string durationText = query["duration"].FirstOrDefault() ?? "30s";
        if (!Units.TryParseTimeUs(durationText, 1_000_000, out ulong us, out string timeError))
        {
            error = $"duration '{durationText}': {timeError}";
            return false;
        }

        if (us == 0 || us > (ulong)(cfg.MaxDuration.Ticks / TimeSpan.TicksPerMicrosecond))
        {
            error = $"duration '{durationText}': must be above 0 and at most {Format(cfg.MaxDuration)} (exporters.prometheus.record.max_duration)";
            return false;
        }

        string sourceText = query["source"].FirstOrDefault() ?? "auto";
        RecordSource? source = RecordSources.Parse(sourceText);
        if (source is null)
        {
            error = $"source '{sourceText}': expected {RecordSources.Names}";
            return false;
        }

        if (KdamondNames.Find(name, Owned(), env.Fs, env.Roots, out error) is not NamedKdamond target)
        {
            return false;
        }

        request = new RecordRequest(target.Name, target.Index, TimeSpan.FromMicroseconds(us), source.Value);
        return true;
    }

    private List<NamedKdamond> Owned() => [.. runner.Manager.Owned.Where(m => m.Index >= 0).Select(m => new NamedKdamond(m.Config.Name, m.Index, Owned: true))];

    private async Task CaptureAsync(RecordRequest request, string file)
    {
        LogStarted(logger, request.Name, request.Index, Format(request.Duration), file);
        try
        {
            List<NamedKdamond> owned = Owned();
            bool refresh = runner.Config.Attach.Refresh;
            var recorder = new RegionRecorder(env, runner.Manager.Commands, index => refresh || owned.Any(o => o.Index == index));
            RecordResult result = await recorder.RecordAsync(request, stopping).ConfigureAwait(false);
            RecordFile.Write(file, result);
            LogDone(logger, request.Name, result.Snapshots.Count, RegionRecorder.Describe(result.Source), file);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            LogCancelled(logger, request.Name);
        }
        catch (Exception e)
        {
            // Logged, never thrown: nobody awaits this task for its result.
            LogFailed(logger, request.Name, e.Message);
        }
        finally
        {
            Volatile.Write(ref busy, 0);
        }
    }

    private static Task Reply(HttpContext ctx, int status, string line) =>
        Results.Text(line + "\n", statusCode: status).ExecuteAsync(ctx);

    private static string Format(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Recording kdamond {Kdamond} (kdamonds/{Index}) for {Duration} into {File} (HTTP request)")]
    private static partial void LogStarted(ILogger logger, string kdamond, int index, string duration, string file);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Recorded {Snapshots} snapshot(s) of kdamond {Kdamond} from {Source} into {File}")]
    private static partial void LogDone(ILogger logger, string kdamond, int snapshots, string source, string file);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "Recording kdamond {Kdamond} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string kdamond, string reason);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "Recording kdamond {Kdamond} cancelled: the agent is stopping")]
    private static partial void LogCancelled(ILogger logger, string kdamond);
}
