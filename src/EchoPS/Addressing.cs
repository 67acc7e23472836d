using System;
using System.Globalization;
using System.Net;

namespace EchoPS
{
    /// <summary>The address rules the server, the client and the allowlist share, written once.</summary>
    internal static class Addressing
    {
        internal const string CanonicalForms =
            "an IPv4 address in dotted decimal (four numbers 0-255 without leading zeros, such as 192.168.1.10) or a standard IPv6 address (such as ::1 or fd00::10)";

        /// <summary>
        /// Parses an IP literal in its canonical form only, optionally in brackets ("[::1]"). IPv4 must be four
        /// decimal parts 0-255 without leading zeros: the inet_aton forms that IPAddress.Parse accepts ("10",
        /// "127.0.0.010" read as octal, "0x7f.0.0.1") would silently mean another address. IPv6 is what
        /// IPAddress.Parse takes, minus a port after brackets, an empty zone, and a non-canonical IPv4 tail.
        /// </summary>
        internal static bool TryParseLiteral(string text, out IPAddress address) => ParseLiteral(text, out address) == null;

        /// <summary>Parses an IP literal as <see cref="TryParseLiteral"/> does; on failure returns why, naming the value.</summary>
        /// <returns>null when <paramref name="address"/> was parsed, otherwise the reason it was not.</returns>
        internal static string ParseLiteral(string text, out IPAddress address)
        {
            address = null;
            var literal = text ?? string.Empty;
            bool bracketed = literal.Length > 1 && literal[0] == '[' && literal[literal.Length - 1] == ']';
            if (bracketed)
                literal = literal.Substring(1, literal.Length - 2);

            if (literal.IndexOf(':') >= 0)
                return ParseIPv6(text, literal, out address);
            if (bracketed)
                return $"'{text}' is not an IPv6 address: only IPv6 addresses go in brackets.";
            return ParseIPv4(text, literal, out address);
        }

        /// <summary>
        /// Splits a client's target: "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6 literal. Text meant as
        /// an IP literal (see <see cref="LooksLikeIPv4"/>) must be a canonical one, so that it never goes to a
        /// resolver. Returns null when parsed, otherwise why not, naming the value.
        /// </summary>
        /// <param name="text">What the user typed.</param>
        /// <param name="host">The host part: a name or an IP literal without brackets.</param>
        /// <param name="literal">The IP address when the host is a literal, otherwise null.</param>
        /// <param name="port">The port given after the host, or null.</param>
        internal static string ParseTarget(string text, out string host, out IPAddress literal, out int? port)
        {
            host = null;
            literal = null;
            port = null;
            var target = (text ?? string.Empty).Trim();
            if (target.Length == 0)
                return $"The host name '{text}' is blank: give a host name or an IP address.";

            string portText = null;
            if (target[0] == '[')
            {
                var close = target.IndexOf(']');
                if (close < 0)
                    return $"'{text}' has no closing bracket: write an IPv6 address with a port as [::1]:8080.";
                host = target.Substring(1, close - 1);
                var rest = target.Substring(close + 1);
                if (rest.Length > 0 && rest[0] != ':')
                    return $"'{text}' has '{rest}' after its closing bracket: write an IPv6 address with a port as [::1]:8080.";
                if (rest.Length > 0)
                    portText = rest.Substring(1);
                if (host.IndexOf(':') < 0)
                    return $"'{text}' is not an IPv6 address: only IPv6 addresses go in brackets.";
            }
            else
            {
                var colon = target.IndexOf(':');
                bool onePortColon = colon >= 0 && target.IndexOf(':', colon + 1) < 0;
                host = onePortColon ? target.Substring(0, colon) : target;
                if (onePortColon)
                    portText = target.Substring(colon + 1);
            }

            if (portText != null)
            {
                if (portText.Length == 0 || portText.Length > 5 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                    || number < 1 || number > 65535)
                    return $"'{text}' has the port '{portText}': allowed is a number from 1 to 65535 (or use -Port).";
                port = number;
            }
            if (host.Length == 0)
                return $"'{text}' has no host before its port: give a host name or an IP address.";
            if (host.IndexOf(':') >= 0 || LooksLikeIPv4(host))
                return ParseLiteral(host, out literal);
            if (host.TrimEnd('.').Length > MaxHostNameLength || Array.Exists(host.Split('.'), label => label.Length > MaxLabelLength))
                return $"'{Shorten(text)}' ({text.Length} characters) is not a host name: a name is at most {MaxHostNameLength} characters, " +
                    $"and each label between dots at most {MaxLabelLength}.";
            foreach (var c in host)
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c) || c == '/' || c == '[' || c == ']')
                    return $"'{text}' is not a host name or an IP address.";
            }
            return null;
        }

        // DNS limits (RFC 1035): a name resolver refuses longer names, .NET's with an exception.
        private const int MaxHostNameLength = 253;
        private const int MaxLabelLength = 63;

        /// <summary>Text for a message: as given when short, otherwise its start.</summary>
        internal static string Shorten(string text) =>
            text == null ? string.Empty : text.Length <= 60 ? text : text.Substring(0, 57) + "...";

        /// <summary>
        /// Whether text is meant as an IPv4 literal rather than a host name: its last label is a number (a DNS
        /// name's top-level label never is), as in "10", "999.1.1.1", "127.0.0.010" or "0x7f.0.0.1". Such text must
        /// never reach a name resolver, which would read it the inet_aton way.
        /// </summary>
        internal static bool LooksLikeIPv4(string text)
        {
            if (string.IsNullOrEmpty(text))
                return false;
            var last = text.Substring(text.LastIndexOf('.') + 1);
            if (last.Length == 0)
                return false;
            if (last.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                return true;
            foreach (var c in last)
            {
                if (c < '0' || c > '9')
                    return false;
            }
            return true;
        }

        /// <summary>An IPv4 peer of a dual-stack socket arrives as ::ffff:a.b.c.d: this is the IPv4 address it is.</summary>
        internal static IPAddress Unmap(IPAddress address) =>
            address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

        /// <summary>The endpoint with its address unmapped, as <see cref="Unmap(IPAddress)"/> does.</summary>
        internal static IPEndPoint Unmap(IPEndPoint endPoint) =>
            endPoint != null && endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

        private static string ParseIPv4(string text, string literal, out IPAddress address)
        {
            address = null;
            var parts = literal.Split('.');
            var bytes = new byte[4];
            bool canonical = parts.Length == 4;
            for (int i = 0; canonical && i < 4; i++)
                canonical = TryParseOctet(parts[i], out bytes[i]);
            if (canonical)
            {
                address = new IPAddress(bytes);
                return null;
            }
            if (!LooksLikeIPv4(literal))
                return $"'{text}' is not an IP address.";
            return $"'{text}' is not a canonical IPv4 address: write four decimal numbers from 0 to 255 separated by dots, " +
                "without leading zeros, hex or shorthand (127.0.0.010 or 0x7f.0.0.1 would mean another address).";
        }

        private static string ParseIPv6(string text, string literal, out IPAddress address)
        {
            address = null;
            var fail = $"'{text}' is not a standard IPv6 address (such as ::1, fd00::10 or fe80::1%eth0; a port goes in -Port).";
            var zone = literal.IndexOf('%');
            var body = zone < 0 ? literal : literal.Substring(0, zone);
            if (zone >= 0 && zone == literal.Length - 1)
                return fail;
            foreach (var c in body)
            {
                bool ok = c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (!ok)
                    return fail;
            }
            var tail = body.Substring(body.LastIndexOf(':') + 1);
            if (tail.IndexOf('.') >= 0 && ParseIPv4(tail, tail, out _) != null)
                return $"'{text}' has a non-canonical IPv4 part '{tail}': write four decimal numbers from 0 to 255 without leading zeros.";
            return IPAddress.TryParse(literal, out address) ? null : fail;
        }

        private static bool TryParseOctet(string part, out byte value)
        {
            value = 0;
            if (part.Length == 0 || part.Length > 3 || (part.Length > 1 && part[0] == '0'))
                return false;
            foreach (var c in part)
            {
                if (c < '0' || c > '9')
                    return false;
            }
            return byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }
    }
}
