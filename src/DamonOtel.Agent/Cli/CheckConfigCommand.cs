using System.CommandLine;
using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Cli;

/// <summary>`damon-otel check-config FILE`: exit 0, or print every error with file, line, column and key.</summary>
internal static class CheckConfigCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "The YAML config file to validate" };
        var cmd = new Command("check-config", "Validate a config file: exit 0, or print every error with its file, line and key") { file };
        cmd.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            try
            {
                AgentConfig c = ConfigLoader.LoadFile(path);
                Console.WriteLine($"{path}: OK ({c.Kdamonds.Count} kdamond(s){(c.Kdamonds.Count > 0 ? ": " + string.Join(", ", c.Kdamonds.Select(k => k.Name)) : string.Empty)})");
                return 0;
            }
            catch (ConfigException e)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine($"{path}: {e.Errors.Count} error(s)");
                return 1;
            }
        });
        return cmd;
    }
}
