using System.Globalization;
using System.Net;

namespace DamonOtel.Agent.Configuration;

/// <summary>"host:port", ":port" (all interfaces) or "[v6]:port".</summary>
internal static class ListenAddress
{
    public static bool TryParse(string text, out IPEndPoint endpoint, out string error)
    {
        endpoint = new IPEndPoint(IPAddress.Any, 0);
        error = string.Empty;
        int colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            error = $"'{text}' is not ADDRESS:PORT (examples: :9464, 127.0.0.1:9464, [::1]:9464)";
            return false;
        }

        string host = text[..colon].Trim('[', ']');
        if (host.Length == 0 || host == "*" || host == "0.0.0.0")
        {
            endpoint = new IPEndPoint(IPAddress.Any, port);
            return true;
        }

        if (host == "localhost")
        {
            endpoint = new IPEndPoint(IPAddress.Loopback, port);
            return true;
        }

        if (!IPAddress.TryParse(host, out IPAddress? address))
        {
            error = $"'{host}' is not an IP address (use an address, localhost, or nothing for all interfaces)";
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
