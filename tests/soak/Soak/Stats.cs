using System.Globalization;
using System.Text;

namespace DamonOtel.Soak;

/// <summary>Command line of the soak driver.</summary>
internal sealed record Options
{
    /// <summary>How to start the agent: a binary, or `dotnet path/damon-otel.dll`.</summary>
    public required IReadOnlyList<string> Agent { get; init; }

    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);

    public int Scrapers { get; init; } = 200;

    public int Slowloris { get; init; } = 20;

    public int Seed { get; init; } = 1;

    /// <summary>RSS above this fails the run (the systemd unit's MemoryMax).</summary>
    public long RssLimitBytes { get; init; } = 256L << 20;

    public string? ReportFile { get; init; }

    public static Options Parse(string[] args)
    {
        var agent = new List<string>();
        var o = new Options { Agent = agent };
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--minutes" => o with { Duration = TimeSpan.FromMinutes(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--scrapers" => o with { Scrapers = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--slowloris" => o with { Slowloris = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--rss-limit-mib" => o with { RssLimitBytes = long.Parse(Next(), CultureInfo.InvariantCulture) << 20 },
                "--report" => o with { ReportFile = Next() },
                "--" => o,
                _ => o,
            };
            if (args[i] == "--")
            {
                agent.AddRange(args[(i + 1)..]);
                break;
            }
        }

        return agent.Count > 0 ? o : throw new ArgumentException("usage: Soak [--minutes N] [--scrapers N] [--slowloris N] [--seed N] [--report FILE] -- AGENT-COMMAND...");
    }
}

/// <summary>Counters of one soak run and its pass/fail rules.</summary>
internal sealed class Stats
{
    private readonly Lock gate = new();
    private readonly Dictionary<int, long> scrapeStatus = [];
    private readonly Dictionary<string, long> monitorFailures = new(StringComparer.Ordinal);
    private readonly List<(DateTime At, long Bytes)> rss = [];
    private readonly List<double> monitorMs = [];
    private long monitorOk;
    private double longestGapSeconds;
    private long reloadsValid;
    private long reloadsInvalid;
    private long sighups;
    private long slowlorisDrops;
    private double slowlorisMaxHeldSeconds;
    private bool agentGone;

    public void Scrape(int status)
    {
        lock (gate)
        {
            scrapeStatus[status] = scrapeStatus.GetValueOrDefault(status) + 1;
        }
    }

    public void MonitorOk(double ms, double secondsSinceLastOk, bool countIt = true)
    {
        lock (gate)
        {
            if (countIt)
            {
                monitorOk++;
                monitorMs.Add(ms);
            }

            longestGapSeconds = Math.Max(longestGapSeconds, secondsSinceLastOk);
        }
    }

    public void MonitorFailed(string why)
    {
        lock (gate)
        {
            monitorFailures[why] = monitorFailures.GetValueOrDefault(why) + 1;
        }
    }

    public void Reload(bool valid)
    {
        lock (gate)
        {
            _ = valid ? reloadsValid++ : reloadsInvalid++;
        }
    }

    public void Sighup()
    {
        lock (gate)
        {
            sighups++;
        }
    }

    public void SlowlorisDropped(double heldSeconds)
    {
        lock (gate)
        {
            slowlorisDrops++;
            slowlorisMaxHeldSeconds = Math.Max(slowlorisMaxHeldSeconds, heldSeconds);
        }
    }

    public void Rss(long bytes)
    {
        lock (gate)
        {
            rss.Add((DateTime.UtcNow, bytes));
        }
    }

    public void AgentGone()
    {
        lock (gate)
        {
            agentGone = true;
        }
    }

    /// <summary>Why the run failed; empty when it passed.</summary>
    public List<string> Check(Options o, bool aliveAtEnd, int? exitCode)
    {
        lock (gate)
        {
            var failures = new List<string>();
            if (!aliveAtEnd || agentGone)
            {
                failures.Add($"the agent exited during the soak (exit code {exitCode})");
            }
            else if (exitCode != 0)
            {
                failures.Add($"SIGTERM ended the agent with exit code {exitCode?.ToString(CultureInfo.InvariantCulture) ?? "none (killed after 30 s)"}");
            }

            long monitorFailed = monitorFailures.Values.Sum();
            // Answering throughout: at most 1 % of the monitor's scrapes lost, never 15 s without an answer.
            if (monitorOk == 0 || monitorFailed * 100 > (monitorOk + monitorFailed))
            {
                failures.Add($"/metrics did not answer throughout: {monitorOk} ok, {monitorFailed} failed");
            }

            if (longestGapSeconds > 15)
            {
                failures.Add($"/metrics did not answer for {longestGapSeconds:F0} s in a row");
            }

            if (scrapeStatus.GetValueOrDefault(200) == 0)
            {
                failures.Add("no scraper ever got a 200");
            }

            if (rss.Count > 0 && rss.Max(r => r.Bytes) > o.RssLimitBytes)
            {
                failures.Add($"RSS reached {rss.Max(r => r.Bytes) >> 20} MiB, above the {o.RssLimitBytes >> 20} MiB limit");
            }

            // No leak: the last quarter's mean RSS at most 25 % (+16 MiB) above the second quarter's.
            if (rss.Count >= 8)
            {
                int q = rss.Count / 4;
                double second = rss.Skip(q).Take(q).Average(r => r.Bytes);
                double last = rss.Skip(rss.Count - q).Average(r => r.Bytes);
                if (last > (second * 1.25) + (16 << 20))
                {
                    failures.Add($"RSS grows: {second / (1 << 20):F0} MiB in the second quarter, {last / (1 << 20):F0} MiB in the last");
                }
            }

            if (slowlorisDrops == 0 && o.Slowloris > 0)
            {
                failures.Add("the slowloris connections were never dropped");
            }

            return failures;
        }
    }

    public string Report(Options o, bool aliveAtEnd, int? exitCode, double stopSeconds, long logLines)
    {
        lock (gate)
        {
            var sb = new StringBuilder();
            var inv = CultureInfo.InvariantCulture;
            sb.AppendLine(inv, $"soak report: {o.Duration.TotalMinutes:F1} min, {o.Scrapers} scrapers, {o.Slowloris} slowloris connections, seed {o.Seed}");
            sb.AppendLine(inv, $"  agent alive at the end: {aliveAtEnd}; SIGTERM exit code {exitCode?.ToString(inv) ?? "-"} after {stopSeconds:F1} s; {logLines} log lines");
            sb.AppendLine(inv, $"  scrapes by status: {string.Join(", ", scrapeStatus.OrderBy(k => k.Key).Select(k => $"{(k.Key == 0 ? "error" : k.Key.ToString(inv))}={k.Value}"))}");
            monitorMs.Sort();
            string p(double q) => monitorMs.Count == 0 ? "-" : monitorMs[(int)Math.Min(monitorMs.Count - 1, q * monitorMs.Count)].ToString("F0", inv);
            sb.AppendLine(inv, $"  monitor: {monitorOk} ok, failures {(monitorFailures.Count == 0 ? "none" : string.Join(", ", monitorFailures.Select(k => $"{k.Key}={k.Value}")))}; latency p50 {p(0.5)} ms, p99 {p(0.99)} ms, max {p(1)} ms; longest gap {longestGapSeconds:F1} s");
            sb.AppendLine(inv, $"  reloads: {reloadsValid} valid, {reloadsInvalid} invalid, {sighups} SIGHUP");
            sb.AppendLine(inv, $"  slowloris: {slowlorisDrops} connections dropped by the agent, longest held {slowlorisMaxHeldSeconds:F1} s");
            if (rss.Count > 0)
            {
                sb.AppendLine(inv, $"  RSS: first {rss[0].Bytes >> 20} MiB, max {rss.Max(r => r.Bytes) >> 20} MiB, last {rss[^1].Bytes >> 20} MiB ({rss.Count} samples, limit {o.RssLimitBytes >> 20} MiB)");
            }

            return sb.ToString();
        }
    }
}
