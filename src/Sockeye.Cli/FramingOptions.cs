using System.CommandLine;
using Sockeye.Framing;

namespace Sockeye.Cli;

/// <summary>The message formats <c>serve</c> and <c>send</c> share, by the names their <c>--framing</c> flag takes.</summary>
internal static class FramingOptions
{
    public const string Delimiter = "delimiter";
    public const string Line = "line";
    public const string LengthPrefix = "length-prefix";
    public const string None = "none";

    public static Option<string> Framing(string description) => new Option<string>("--framing")
    {
        Description = $"{description} delimiter: each message ends with --delimiter. line: each ends with \\n (\\r\\n accepted). " +
            "length-prefix: each starts with its length, 4 bytes big-endian. none: the whole stream, until the peer ends its side.",
        DefaultValueFactory = _ => None,
        HelpName = "FORMAT",
    }.AcceptOnlyFromAmong(Delimiter, Line, LengthPrefix, None);

    public static Option<string> DelimiterText(string description)
    {
        var option = new Option<string>("--delimiter")
        {
            Description = description,
            DefaultValueFactory = _ => DelimiterFramer.DefaultDelimiter,
            HelpName = "TEXT",
        };
        option.Validators.Add(result =>
        {
            if (string.IsNullOrEmpty(result.GetValueOrDefault<string>()))
            {
                result.AddError("--delimiter must not be empty.");
            }
        });
        return option;
    }

    /// <summary>The framer for <paramref name="framing"/>; <see langword="null"/> for none.</summary>
    public static MessageFramer? Create(string framing, string delimiter) => framing switch
    {
        Delimiter => new DelimiterFramer(delimiter),
        Line => new LineFramer(),
        LengthPrefix => new LengthPrefixFramer(),
        _ => null,
    };
}
