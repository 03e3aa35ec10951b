using System.Net;
using System.Net.Http.Headers;
using DamonOtel.EndToEnd.Tests.RemoteWrite.Proto;
using Google.Protobuf;

namespace DamonOtel.EndToEnd.Tests.RemoteWrite;

/// <summary>
/// Prometheus remote write 1.0 over HTTP: a protobuf WriteRequest, snappy block-compressed, POSTed
/// with the headers the specification requires. Prometheus answers 204 when it stored the samples,
/// 400 with a message when it rejected them (too old, out of order, bad encoding).
/// </summary>
internal sealed class RemoteWriteClient(Uri prometheus) : IDisposable
{
    private readonly HttpClient http = new() { BaseAddress = prometheus, Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Sends the series; returns Prometheus' status code and response body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> SendAsync(IEnumerable<TimeSeries> series)
    {
        var request = new WriteRequest();
        request.Timeseries.AddRange(series);
        using var content = new ByteArrayContent(SnappyBlock.Encode(request.ToByteArray()));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        content.Headers.ContentEncoding.Add("snappy");
        using var message = new HttpRequestMessage(HttpMethod.Post, "api/v1/write") { Content = content };
        message.Headers.Add("X-Prometheus-Remote-Write-Version", "0.1.0");
        using HttpResponseMessage response = await http.SendAsync(message);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>One series of one sample; labels are sorted by name as remote write requires.</summary>
    public static TimeSeries Series(string name, IReadOnlyDictionary<string, string> labels, double value, long timestampMs)
    {
        var series = new TimeSeries();
        series.Labels.AddRange(labels.Append(new("__name__", name))
            .OrderBy(l => l.Key, StringComparer.Ordinal)
            .Select(l => new Label { Name = l.Key, Value = l.Value }));
        series.Samples.Add(new Sample { Value = value, Timestamp = timestampMs });
        return series;
    }

    public void Dispose() => http.Dispose();
}
