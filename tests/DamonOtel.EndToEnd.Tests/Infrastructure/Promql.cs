using System.Globalization;
using System.Text.Json;
using DamonOtel.Telemetry.Tests.Infrastructure;

namespace DamonOtel.EndToEnd.Tests.Infrastructure;

/// <summary>One sample of an instant query: its labels and value.</summary>
internal sealed record PromSample(IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string this[string label] => Labels.TryGetValue(label, out string? v) ? v : string.Empty;
}

/// <summary>
/// Instant queries through Prometheus' HTTP API, optionally all at one evaluation time so that
/// several queries see the same scrape.
/// </summary>
internal sealed class Promql(PrometheusServer server) : IDisposable
{
    private readonly HttpClient http = new() { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };

    public PrometheusServer Server => server;

    public async Task<IReadOnlyList<PromSample>> QueryAsync(string promql, double? atUnixSeconds = null)
    {
        string url = "api/v1/query?query=" + Uri.EscapeDataString(promql)
            + (atUnixSeconds is { } t ? "&time=" + t.ToString("F3", CultureInfo.InvariantCulture) : string.Empty);
        string json = await http.GetStringAsync(url);
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"query {promql} failed: {json}");
        }

        var samples = new List<PromSample>();
        foreach (JsonElement r in doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in r.GetProperty("metric").EnumerateObject())
            {
                labels[p.Name] = p.Value.GetString() ?? string.Empty;
            }

            samples.Add(new PromSample(labels, ParseValue(r.GetProperty("value")[1].GetString()!)));
        }

        return samples;
    }

    /// <summary>The single value of a query that must return exactly one sample.</summary>
    public async Task<double> ScalarAsync(string promql, double? atUnixSeconds = null)
    {
        IReadOnlyList<PromSample> s = await QueryAsync(promql, atUnixSeconds);
        return s.Count == 1 ? s[0].Value : throw new InvalidOperationException($"{promql}: expected 1 sample, got {s.Count}: {string.Join("; ", s.Select(Describe))}");
    }

    /// <summary>Polls until the query returns at least one sample and all samples satisfy <paramref name="ok"/>.</summary>
    public async Task<IReadOnlyList<PromSample>> WaitAsync(string promql, Func<PromSample, bool> ok, TimeSpan timeout, string what)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        IReadOnlyList<PromSample> last = [];
        while (true)
        {
            last = await QueryAsync(promql);
            if (last.Count > 0 && last.All(ok))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: `{promql}` never satisfied within {timeout}; last result: [{string.Join("; ", last.Select(Describe))}]\ntargets: {await server.ActiveTargetsAsync()}");
            }

            await Task.Delay(500);
        }
    }

    public static string Describe(PromSample s) =>
        "{" + string.Join(",", s.Labels.Select(kv => $"{kv.Key}=\"{kv.Value}\"")) + "} " + s.Value.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose() => http.Dispose();

    private static double ParseValue(string v) => v switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(v, CultureInfo.InvariantCulture),
    };
}
