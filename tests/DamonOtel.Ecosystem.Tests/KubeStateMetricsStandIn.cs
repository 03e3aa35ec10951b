using System.Net;
using System.Text;
using DamonOtel.Agent.Hosting;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// Serves what kube-state-metrics would say about the simulated node's pods (kube_pod_info, one
/// series per pod of <see cref="SimulationConfig.Pods"/>), so the dashboards' join of per-pod
/// figures with pod names runs against real Prometheus data.
/// </summary>
internal sealed class KubeStateMetricsStandIn : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly Task loop;

    public KubeStateMetricsStandIn(int port)
    {
        Port = port;
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>The exposition: kube_pod_info with kube-state-metrics' label names.</summary>
    public static string Body()
    {
        var sb = new StringBuilder("# HELP kube_pod_info [STABLE] Information about pod.\n# TYPE kube_pod_info gauge\n");
        foreach (var pod in SimulationConfig.Pods)
        {
            sb.Append($"kube_pod_info{{namespace=\"{pod.Namespace}\",pod=\"{pod.Name}\",uid=\"{pod.Uid}\",node=\"simulated\",host_network=\"false\",created_by_kind=\"ReplicaSet\",priority_class=\"\"}} 1\n");
        }

        return sb.ToString();
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
        try
        {
            loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The pending GetContextAsync fails when the listener closes.
        }
    }

    private async Task ServeAsync()
    {
        byte[] body = Encoding.UTF8.GetBytes(Body());
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await ctx.Response.OutputStream.WriteAsync(body).ConfigureAwait(false);
            ctx.Response.Close();
        }
    }
}
