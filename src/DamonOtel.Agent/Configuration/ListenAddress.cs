using DamonOtel.Telemetry.Http;

namespace DamonOtel.Agent.Configuration;

/// <summary>Validates a listen address with the endpoint's own parser, as an error message instead of an exception.</summary>
internal static class ListenAddress
{
    public static bool TryValidate(string text, out string error)
    {
        try
        {
            _ = MetricsEndpoint.ParseListenAddress(text);
            error = string.Empty;
            return true;
        }
        catch (FormatException e)
        {
            error = e.Message + " (examples: :9464, 127.0.0.1:9464, [::1]:9464)";
            return false;
        }
    }
}
