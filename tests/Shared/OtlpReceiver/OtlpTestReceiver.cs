using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Threading.Channels;
using DamonOtel.OtlpReceiver.Proto.Collector;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace DamonOtel.OtlpReceiver;

/// <summary>How an export arrived.</summary>
public enum OtlpTransport
{
    /// <summary>gRPC unary call over HTTP/2 cleartext.</summary>
    Grpc,

    /// <summary>HTTP/1.1 POST /v1/metrics with a protobuf body.</summary>
    HttpProtobuf,
}

/// <summary>One decoded export request with the HTTP details it came with.</summary>
/// <param name="Transport">gRPC or http/protobuf.</param>
/// <param name="Path">Request path.</param>
/// <param name="HttpProtocol">e.g. "HTTP/2" or "HTTP/1.1".</param>
/// <param name="Headers">Request headers (names lower-cased; multiple values joined by ',').</param>
/// <param name="Compressed">Whether the body (HTTP) or the message (gRPC flag) was gzip-compressed.</param>
/// <param name="WireBytes">Size of the body as received, before decompression.</param>
/// <param name="Request">The decoded protobuf message.</param>
public sealed record ReceivedExport(
    OtlpTransport Transport,
    string Path,
    string HttpProtocol,
    IReadOnlyDictionary<string, string> Headers,
    bool Compressed,
    int WireBytes,
    ExportMetricsServiceRequest Request);

/// <summary>
/// A minimal OTLP/metrics receiver for tests: Kestrel on 127.0.0.1, one HTTP/2-only (h2c)
/// port for gRPC and one HTTP/1.1 port for http/protobuf. It decodes the wire bytes with its
/// own message classes (compiled from the OTLP .proto files in protos/), independently of
/// the exporter under test. Malformed requests are answered with an error status and their
/// description is queued in <see cref="Errors"/> so a test can assert there were none.
/// </summary>
public sealed class OtlpTestReceiver : IAsyncDisposable
{
    /// <summary>gRPC method path of the OTLP metrics service.</summary>
    public const string GrpcPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    /// <summary>OTLP/HTTP metrics path.</summary>
    public const string HttpPath = "/v1/metrics";

    private const int MaxBodyBytes = 64 * 1024 * 1024;

    private readonly WebApplication app;
    private readonly Channel<ReceivedExport> received = Channel.CreateUnbounded<ReceivedExport>();
    private readonly List<ReceivedExport> all = [];
    private readonly List<string> errors = [];
    private readonly Lock gate = new();

    private OtlpTestReceiver(WebApplication app, Uri grpcEndpoint, Uri httpBase)
    {
        this.app = app;
        GrpcEndpoint = grpcEndpoint;
        HttpBase = httpBase;
    }

    /// <summary>Base URL of the gRPC (h2c) listener, e.g. http://127.0.0.1:40001.</summary>
    public Uri GrpcEndpoint { get; }

    /// <summary>Base URL of the HTTP/1.1 listener, e.g. http://127.0.0.1:40002.</summary>
    public Uri HttpBase { get; }

    /// <summary>Full http/protobuf metrics URL (<see cref="HttpBase"/> + /v1/metrics).</summary>
    public Uri HttpMetricsEndpoint => new(HttpBase, HttpPath);

    /// <summary>Status code the HTTP listener answers successful requests with (tests of failure handling may change it).</summary>
    public int HttpSuccessStatus { get; set; } = StatusCodes.Status200OK;

    /// <summary>Every export received so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedExport> All
    {
        get
        {
            lock (gate)
            {
                return [.. all];
            }
        }
    }

    /// <summary>Descriptions of malformed or unexpected requests.</summary>
    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (gate)
            {
                return [.. errors];
            }
        }
    }

    /// <summary>Starts the receiver on two free loopback ports.</summary>
    public static async Task<OtlpTestReceiver> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = MaxBodyBytes;
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        OtlpTestReceiver? receiver = null;
        app.Run(ctx => receiver!.HandleAsync(ctx));
        await app.StartAsync(cancellationToken);

        // Kestrel reports the bound addresses in Listen order.
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        if (addresses.Count != 2)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException($"expected 2 bound addresses, got: {string.Join(", ", addresses)}");
        }

        receiver = new OtlpTestReceiver(app, new Uri(addresses[0]), new Uri(addresses[1]));
        return receiver;
    }

    /// <summary>Waits for the next export not yet taken by this method.</summary>
    public async Task<ReceivedExport> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await received.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no OTLP export arrived within {timeout}; errors: [{string.Join("; ", Errors)}]");
        }
    }

    /// <summary>Takes every export already queued (without waiting).</summary>
    public IReadOnlyList<ReceivedExport> Drain()
    {
        var list = new List<ReceivedExport>();
        while (received.Reader.TryRead(out var item))
        {
            list.Add(item);
        }

        return list;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? string.Empty;
        try
        {
            if (!HttpMethods.IsPost(ctx.Request.Method))
            {
                throw new ReceiverException(StatusCodes.Status405MethodNotAllowed, $"{ctx.Request.Method} {path}: only POST is accepted");
            }

            if (ctx.Request.Protocol == "HTTP/2" && path == GrpcPath)
            {
                await HandleGrpcAsync(ctx, path);
            }
            else if (ctx.Request.Protocol == "HTTP/1.1" && path == HttpPath)
            {
                await HandleHttpAsync(ctx, path);
            }
            else
            {
                throw new ReceiverException(StatusCodes.Status404NotFound, $"unexpected {ctx.Request.Protocol} POST to '{path}'");
            }
        }
        catch (ReceiverException e)
        {
            Fail(e.Message);
            if (ctx.Request.Protocol == "HTTP/2")
            {
                // gRPC reports errors in trailers with HTTP 200; 3 = INVALID_ARGUMENT, 12 = UNIMPLEMENTED.
                ctx.Response.StatusCode = StatusCodes.Status200OK;
                ctx.Response.ContentType = "application/grpc";
                ctx.Response.AppendTrailer("grpc-status", e.Status == StatusCodes.Status404NotFound ? "12" : "3");
                ctx.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(e.Message));
            }
            else
            {
                ctx.Response.StatusCode = e.Status;
            }
        }
    }

    private async Task HandleGrpcAsync(HttpContext ctx, string path)
    {
        var contentType = ctx.Request.ContentType ?? string.Empty;
        if (!contentType.StartsWith("application/grpc", StringComparison.Ordinal))
        {
            throw new ReceiverException(StatusCodes.Status400BadRequest, $"gRPC content-type '{contentType}', expected application/grpc");
        }

        var body = await ReadBodyAsync(ctx.Request);

        // Length-prefixed message: 1 byte compressed flag, 4 bytes big-endian length, message.
        if (body.Length < 5)
        {
            throw new ReceiverException(StatusCodes.Status400BadRequest, $"gRPC body of {body.Length} bytes is shorter than the 5-byte frame header");
        }

        var flag = body[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1, 4));
        if (flag > 1)
        {
            throw new ReceiverException(StatusCodes.Status400BadRequest, $"gRPC compressed flag {flag} is neither 0 nor 1");
        }

        if (length != body.Length - 5)
        {
            throw new ReceiverException(StatusCodes.Status400BadRequest, $"gRPC frame declares {length} bytes but {body.Length - 5} follow (exactly one message expected)");
        }

        var message = body.AsMemory(5);
        var compressed = flag == 1;
        if (compressed)
        {
            var encoding = ctx.Request.Headers["grpc-encoding"].ToString();
            if (encoding != "gzip")
            {
                throw new ReceiverException(StatusCodes.Status400BadRequest, $"gRPC message flagged compressed but grpc-encoding is '{encoding}'");
            }

            message = Gunzip(message);
        }

        var request = Decode(message);

        // Unary response: one frame with an empty ExportMetricsServiceResponse, then trailers.
        var response = new ExportMetricsServiceResponse().ToByteArray();
        var frame = new byte[5 + response.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)response.Length);
        response.CopyTo(frame, 5);
        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.ContentType = "application/grpc";
        ctx.Response.DeclareTrailer("grpc-status");
        await ctx.Response.Body.WriteAsync(frame);
        ctx.Response.AppendTrailer("grpc-status", "0");

        Publish(new ReceivedExport(OtlpTransport.Grpc, path, ctx.Request.Protocol, CopyHeaders(ctx.Request), compressed, body.Length, request));
    }

    private async Task HandleHttpAsync(HttpContext ctx, string path)
    {
        var contentType = ctx.Request.ContentType ?? string.Empty;
        if (contentType != "application/x-protobuf")
        {
            throw new ReceiverException(StatusCodes.Status415UnsupportedMediaType, $"http/protobuf content-type '{contentType}', expected application/x-protobuf");
        }

        var body = await ReadBodyAsync(ctx.Request);
        var encoding = ctx.Request.Headers.ContentEncoding.ToString();
        var compressed = encoding switch
        {
            "" or "identity" => false,
            "gzip" => true,
            _ => throw new ReceiverException(StatusCodes.Status415UnsupportedMediaType, $"unsupported Content-Encoding '{encoding}'"),
        };
        var message = compressed ? Gunzip(body) : body;
        var request = Decode(message);

        ctx.Response.StatusCode = HttpSuccessStatus;
        ctx.Response.ContentType = "application/x-protobuf";
        await ctx.Response.Body.WriteAsync(new ExportMetricsServiceResponse().ToByteArray());

        Publish(new ReceivedExport(OtlpTransport.HttpProtobuf, path, ctx.Request.Protocol, CopyHeaders(ctx.Request), compressed, body.Length, request));
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var ms = new MemoryStream();
        await request.Body.CopyToAsync(ms);
        return ms.ToArray();
    }

    private static byte[] Gunzip(ReadOnlyMemory<byte> data)
    {
        try
        {
            using var input = new MemoryStream(data.ToArray());
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new ReceiverException(StatusCodes.Status400BadRequest, $"body is not valid gzip: {e.Message}");
        }
    }

    private static ExportMetricsServiceRequest Decode(ReadOnlyMemory<byte> message)
    {
        try
        {
            return ExportMetricsServiceRequest.Parser.ParseFrom(message.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ReceiverException(StatusCodes.Status400BadRequest, $"body is not a valid ExportMetricsServiceRequest: {e.Message}");
        }
    }

    private static Dictionary<string, string> CopyHeaders(HttpRequest request)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            headers[name.ToLowerInvariant()] = values.ToString();
        }

        return headers;
    }

    private void Publish(ReceivedExport export)
    {
        lock (gate)
        {
            all.Add(export);
        }

        received.Writer.TryWrite(export);
    }

    private void Fail(string message)
    {
        lock (gate)
        {
            errors.Add(message);
        }
    }

    private sealed class ReceiverException(int status, string message) : Exception(message)
    {
        public int Status { get; } = status;
    }
}
