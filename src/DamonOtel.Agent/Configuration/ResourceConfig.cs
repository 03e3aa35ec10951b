namespace DamonOtel.Agent.Configuration;

/// <summary>resource: what the OTLP resource (and target_info) says about this agent.</summary>
internal sealed record ResourceConfig
{
    /// <summary>service.instance.id; null = K8S_NODE_NAME when set, else the host name.</summary>
    public string? ServiceInstanceId { get; init; }
}
