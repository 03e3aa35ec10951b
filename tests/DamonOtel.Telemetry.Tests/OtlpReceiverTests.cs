using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using DamonOtel.OtlpReceiver;
using DamonOtel.OtlpReceiver.Proto.Collector;
using DamonOtel.OtlpReceiver.Proto.Metrics;
using Google.Protobuf;

namespace DamonOtel.Telemetry.Tests;

/// <summary>The test receiver itself: it must reject what a real collector would, so export tests can fail.</summary>
public sealed class OtlpReceiverTests : IAsyncLifetime
{
    private OtlpTestReceiver receiver = null!;

    public async Task InitializeAsync() => receiver = await OtlpTestReceiver.StartAsync();

    public async Task DisposeAsync() => await receiver.DisposeAsync();

    [Fact]
    public async Task Http_post_to_another_path_is_404_and_recorded()
    {
        using var client = new HttpClient();
        using var content = new ByteArrayContent(Request("x").ToByteArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using var response = await client.PostAsync(receiver.HttpBase, content);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("unexpected HTTP/1.1 POST to '/'", Assert.Single(receiver.Errors), StringComparison.Ordinal);
        Assert.Empty(receiver.All);
    }

    [Fact]
    public async Task Http_gzip_body_is_decoded()
    {
        var raw = Request("damon.test").ToByteArray();
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(raw);
        }

        using var client = new HttpClient();
        using var content = new ByteArrayContent(ms.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        content.Headers.ContentEncoding.Add("gzip");
        using var response = await client.PostAsync(receiver.HttpMetricsEndpoint, content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var export = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        Assert.True(export.Compressed);
        Assert.Equal((int)ms.Length, export.WireBytes);
        Assert.Equal(42, export.Request.Metric("damon.test").Gauge.DataPoints[0].AsInt);
    }

    [Fact]
    public async Task Grpc_frame_with_wrong_length_gets_invalid_argument()
    {
        var message = Request("x").ToByteArray();
        var frame = new byte[5 + message.Length];
        frame[4] = (byte)(message.Length + 3); // declares 3 bytes more than follow
        message.CopyTo(frame, 5);

        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(receiver.GrpcEndpoint, OtlpTestReceiver.GrpcPath))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        using var response = await client.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync(); // trailers arrive after the body
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Contains($"declares {message.Length + 3} bytes but {message.Length} follow", Assert.Single(receiver.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpc_valid_frame_gets_ok_status_and_an_empty_response_frame()
    {
        var message = Request("damon.grpc").ToByteArray();
        var frame = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)message.Length);
        message.CopyTo(frame, 5);

        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(receiver.GrpcEndpoint, OtlpTestReceiver.GrpcPath))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0 }, body); // uncompressed, zero-length message
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        var export = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(OtlpTransport.Grpc, export.Transport);
        Assert.False(export.Compressed);
        Assert.Equal(42, export.Request.Metric("damon.grpc").Gauge.DataPoints[0].AsInt);
        Assert.Empty(receiver.Errors);
    }

    private static ExportMetricsServiceRequest Request(string metricName)
    {
        var gauge = new Gauge();
        gauge.DataPoints.Add(new NumberDataPoint { AsInt = 42 });
        var scope = new ScopeMetrics();
        scope.Metrics.Add(new Metric { Name = metricName, Gauge = gauge });
        var rm = new ResourceMetrics();
        rm.ScopeMetrics.Add(scope);
        var request = new ExportMetricsServiceRequest();
        request.ResourceMetrics.Add(rm);
        return request;
    }
}
