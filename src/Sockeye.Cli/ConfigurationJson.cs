using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sockeye.Cli;

/// <summary>
/// Configuration keys and values written as the JSON of an appsettings.json file, so that
/// <c>sockeye serve --print-config &gt; appsettings.json</c> reproduces the configuration.
/// </summary>
internal static class ConfigurationJson
{
    public static string Write(IEnumerable<KeyValuePair<string, string?>> values)
    {
        var root = new Node();
        foreach (var (key, value) in values)
        {
            var node = root;
            foreach (var name in key.Split(':'))
            {
                node = node.Child(name);
            }

            node.Value = value;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,

            // Written for people and for the configuration reader, never into HTML: "<EOF>" stays "<EOF>".
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            Write(writer, root);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, Node node)
    {
        if (node.Children.Count == 0)
        {
            WriteValue(writer, node.Value);
            return;
        }

        // Children named 0, 1, 2, ... are how configuration keys a JSON array's items: write them back as one.
        if (node.Children.Select((child, i) => child.Name == i.ToString(CultureInfo.InvariantCulture)).All(isIndex => isIndex))
        {
            writer.WriteStartArray();
            foreach (var child in node.Children)
            {
                Write(writer, child);
            }

            writer.WriteEndArray();
            return;
        }

        writer.WriteStartObject();
        foreach (var child in node.Children)
        {
            writer.WritePropertyName(child.Name);
            Write(writer, child);
        }

        writer.WriteEndObject();
    }

    /// <summary>Numbers and booleans as JSON numbers and booleans when they read back the same; everything else as text.</summary>
    private static void WriteValue(Utf8JsonWriter writer, string? value)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else if (value.Equals("true", StringComparison.OrdinalIgnoreCase) || value.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            // JSON's true reads back as "True": a boolean either way.
            writer.WriteBooleanValue(value.Equals("true", StringComparison.OrdinalIgnoreCase));
        }
        else if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)
            && whole.ToString(CultureInfo.InvariantCulture) == value)
        {
            writer.WriteNumberValue(whole);
        }
        else if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            && double.IsFinite(number) && number.ToString(CultureInfo.InvariantCulture) == value)
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }

    private sealed class Node(string name = "")
    {
        public string Name { get; } = name;

        public string? Value { get; set; }

        public List<Node> Children { get; } = [];

        /// <summary>The child of that name, matched as configuration matches keys: without regard to case.</summary>
        public Node Child(string name)
        {
            var child = Children.Find(node => node.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (child is null)
            {
                child = new Node(name);
                Children.Add(child);
            }

            return child;
        }
    }
}
