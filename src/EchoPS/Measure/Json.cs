using System;
using System.Collections;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Text;

namespace EchoPS.Measure
{
    /// <summary>
    /// Writes plain data objects as indented JSON: public properties, arrays, strings, numbers (NaN and infinities
    /// as null), booleans and enums (as names). Enough for the report's raw data without a JSON library that would
    /// have to ship beside the module.
    /// </summary>
    internal static class Json
    {
        internal static string Write(object value)
        {
            var text = new StringBuilder();
            WriteValue(text, value, 0);
            return text.AppendLine().ToString();
        }

        private static void WriteValue(StringBuilder text, object value, int depth)
        {
            // A report is a few levels deep: deeper means a type this writer should name above (a cycle otherwise).
            if (depth > MaxDepth)
                throw new InvalidOperationException($"The measurement's JSON is deeper than {MaxDepth} levels at a {value?.GetType().Name}: a type the writer does not know.");
            switch (value)
            {
                case null:
                    text.Append("null");
                    return;
                case string s:
                    WriteString(text, s);
                    return;
                case bool b:
                    text.Append(b ? "true" : "false");
                    return;
                case Enum e:
                    WriteString(text, e.ToString());
                    return;
                case DateTimeOffset t:
                    WriteString(text, t.ToString("o", CultureInfo.InvariantCulture));
                    return;
                case DateTime t:
                    // Round-trip form with the offset of a local time: the same instant however it is read.
                    WriteString(text, new DateTimeOffset(t).ToString("o", CultureInfo.InvariantCulture));
                    return;
                case double d:
                    text.Append(double.IsNaN(d) || double.IsInfinity(d) ? "null" : d.ToString("R", CultureInfo.InvariantCulture));
                    return;
                case IConvertible number when IsNumber(number):
                    text.Append(Convert.ToString(number, CultureInfo.InvariantCulture));
                    return;
                case IDictionary map:
                    WriteMembers(text, map.Keys.Cast<object>().Select(k => (Convert.ToString(k, CultureInfo.InvariantCulture), map[k])), depth);
                    return;
                case IEnumerable list:
                    var items = list.Cast<object>().ToArray();
                    text.Append('[');
                    for (int i = 0; i < items.Length; i++)
                    {
                        text.Append(i == 0 ? "" : ", ");
                        WriteValue(text, items[i], depth + 1);
                    }
                    text.Append(']');
                    return;
                default:
                    var properties = value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0);
                    WriteMembers(text, properties.Select(p => (p.Name, p.GetValue(value))), depth);
                    return;
            }
        }

        private const int MaxDepth = 16;

        private static void WriteMembers(StringBuilder text, System.Collections.Generic.IEnumerable<(string Name, object Value)> members, int depth)
        {
            string indent = new string(' ', 2 * (depth + 1));
            text.Append('{');
            bool first = true;
            foreach (var (name, member) in members)
            {
                text.Append(first ? "\n" : ",\n").Append(indent);
                WriteString(text, name);
                text.Append(": ");
                WriteValue(text, member, depth + 1);
                first = false;
            }
            text.Append(first ? "}" : "\n" + new string(' ', 2 * depth) + "}");
        }

        private static bool IsNumber(IConvertible value)
        {
            switch (value.GetTypeCode())
            {
                case TypeCode.Byte: case TypeCode.SByte: case TypeCode.Int16: case TypeCode.UInt16:
                case TypeCode.Int32: case TypeCode.UInt32: case TypeCode.Int64: case TypeCode.UInt64:
                case TypeCode.Single: case TypeCode.Decimal:
                    return true;
                default:
                    return false;
            }
        }

        private static void WriteString(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    default:
                        if (c < ' ')
                            text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            text.Append(c);
                        break;
                }
            }
            text.Append('"');
        }
    }
}
