using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Tests.Targets;

/// <summary>The config keys of process targets: every process, children, the cap, pins, pid file owner, mapped_only.</summary>
public class TargetConfigTests
{
    [Fact]
    public void Process_targets_default_to_every_process_up_to_64_unpinned_and_mapped_only()
    {
        AgentConfig c = ConfigLoader.Parse("kdamonds: [{targets: [{process_name: nginx}]}]", "x.yaml");
        KdamondConfig k = Assert.Single(c.Kdamonds);
        TargetConfig t = Assert.Single(k.Targets);
        Assert.False(t.IncludeChildren);
        Assert.Equal(64, t.MaxProcesses);
        Assert.Empty(t.Executables);
        Assert.Empty(t.Uids);
        Assert.False(t.IsPinned);
        Assert.Null(t.PidFileOwner);
        Assert.True(k.MappedOnly);
        Assert.True(c.Attach.MappedOnly);
    }

    [Fact]
    public void Pins_children_cap_and_owner_are_read()
    {
        const string yaml = """
            attach: {mapped_only: false}
            kdamonds:
              - mapped_only: false
                targets:
                  - {name: web, process_name: nginx, include_children: true, max_processes: 8, exe: /usr/sbin/nginx, uid: [0, 33]}
                  - {name: db, pid_file: /run/postgresql/15-main.pid, pid_file_owner: 105, exe: [/usr/lib/postgresql/15/bin/postgres], uid: 105}
            """;
        AgentConfig c = ConfigLoader.Parse(yaml, "x.yaml");
        KdamondConfig k = Assert.Single(c.Kdamonds);
        Assert.False(k.MappedOnly);
        Assert.False(c.Attach.MappedOnly);
        TargetConfig web = k.Targets[0];
        Assert.True(web.IncludeChildren);
        Assert.Equal(8, web.MaxProcesses);
        Assert.Equal(["/usr/sbin/nginx"], web.Executables);
        Assert.Equal([0u, 33u], web.Uids);
        Assert.True(web.IsPinned);
        TargetConfig db = k.Targets[1];
        Assert.Equal(105u, db.PidFileOwner);
        Assert.Equal(["/usr/lib/postgresql/15/bin/postgres"], db.Executables);
        Assert.Equal([105u], db.Uids);
    }

    [Theory]
    [InlineData("kdamonds: [{targets: [{process_name: a, exe: nginx}]}]", "targets[0].exe: 'nginx' is not an absolute path")]
    [InlineData("kdamonds: [{targets: [{process_name: a, exe: [/usr/bin/a, sbin/b]}]}]", "'sbin/b' is not an absolute path")]
    [InlineData("kdamonds: [{targets: [{process_name: a, uid: www-data}]}]", "targets[0].uid: 'www-data' is not a numeric uid")]
    [InlineData("kdamonds: [{targets: [{process_name: a, uid: -1}]}]", "'-1' is not a numeric uid")]
    [InlineData("kdamonds: [{targets: [{process_name: a, max_processes: 0}]}]", "targets[0].max_processes: '0' is not a whole number between 1 and 1024")]
    [InlineData("kdamonds: [{targets: [{process_name: a, max_processes: 5000}]}]", "between 1 and 1024")]
    [InlineData("kdamonds: [{targets: [{process_name: a, include_children: maybe}]}]", "'maybe' is not true or false")]
    [InlineData("kdamonds: [{targets: [{process_name: a, pid_file_owner: 33}]}]", "pid_file_owner: applies to pid_file targets only")]
    [InlineData("kdamonds: [{operations: paddr, targets: [{memory: largest_block, uid: 0}]}]", "targets[0].uid: applies to process targets only")]
    [InlineData("kdamonds: [{operations: paddr, targets: [{memory: largest_block, include_children: true}]}]", "include_children: applies to process targets only")]
    [InlineData("kdamonds: [{operations: paddr, mapped_only: true}]", "mapped_only: applies to vaddr and fvaddr")]
    public void Invalid_target_settings_are_explained(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "x.yaml"));
        Assert.Contains(expected, e.Message);
    }
}
