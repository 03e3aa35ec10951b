using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace DamonOtel.Telemetry.Tests;

public sealed class EndpointHostTests
{
    [Fact]
    public async Task The_endpoint_reads_no_configuration_files_so_it_watches_no_directory()
    {
        // WebApplication.CreateSlimBuilder adds appsettings*.json with reload on change, which
        // watches the working directory recursively: from / (containers, systemd) that was
        // ~54,000 inotify watches over /proc and /sys and seconds of start-up.
        var store = new ObservationStore();
        using var pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions
        {
            ProcfsRoot = Fixtures.ProcRoot(),
            UseEnvironment = false,
            MeterName = "test." + Guid.NewGuid().ToString("N"),
        });
        await using var endpoint = MetricsEndpoint.Create(new MetricsEndpointOptions { ListenAddress = "127.0.0.1:0" }, pipeline.Scrape);

        var providers = ((IConfigurationRoot)endpoint.App.Configuration).Providers.ToList();
        Assert.DoesNotContain(providers, p => p is FileConfigurationProvider);
    }
}
