using System.Text.RegularExpressions;
using Sockeye.Tests.Infrastructure;

namespace Sockeye.Tests.Integration;

/// <summary>The deployment docs name only flags that <c>sockeye serve</c> has.</summary>
public partial class DeployDocsTests
{
    [Fact(Timeout = Timeouts.Process)]
    public async Task Every_serve_flag_in_docs_deploy_exists()
    {
        var help = await CliProcess.RunAsync("serve", "--help");
        var known = Flag().Matches(string.Join('\n', help.StandardOutput)).Select(match => match.Value).ToHashSet();
        var directory = Path.Combine(RepositoryRoot(), "docs", "deploy");

        var used = Directory.GetFiles(directory)
            .SelectMany(file => ServeCommands(File.ReadAllLines(file)).Select(command => (File: Path.GetFileName(file), Command: command)))
            .SelectMany(found => Flag().Matches(found.Command).Select(match => (found.File, Flag: match.Value)))
            .ToList();

        Assert.Contains(used, found => found.File == "kubernetes.yaml");
        Assert.Contains(used, found => found.File == "sockeye@.service");
        Assert.Contains(used, found => found.File == "Dockerfile");
        Assert.Contains(used, found => found.File == "README.md" && found.Flag == "--tls-client-ca");
        Assert.All(used, found => Assert.True(known.Contains(found.Flag), $"{found.File} uses {found.Flag}, which 'sockeye serve' does not have"));
    }

    /// <summary>
    /// The text of every <c>sockeye serve</c> command: shell lines (with their backslash continuations), argument arrays
    /// that start with "serve", and the rows of the README's flag table.
    /// </summary>
    private static IEnumerable<string> ServeCommands(string[] lines)
    {
        for (var i = 0; i < lines.Length; i++)
        {
            if (!(lines[i].Contains("sockeye serve", StringComparison.Ordinal) || lines[i].Contains("\"serve\"", StringComparison.Ordinal)
                || lines[i].StartsWith("| `--", StringComparison.Ordinal)))
            {
                continue;
            }

            var command = lines[i];
            while (command.EndsWith('\\') && i + 1 < lines.Length)
            {
                command = command[..^1] + lines[++i];
            }

            yield return command;
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(Path.GetDirectoryName(CliProcess.ToolPath)!);
        while (!File.Exists(Path.Combine(directory.FullName, "Sockeye.slnx")))
        {
            directory = directory.Parent ?? throw new InvalidOperationException("The repository root is not above the tool.");
        }

        return directory.FullName;
    }

    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z0-9-]*")]
    private static partial Regex Flag();
}
