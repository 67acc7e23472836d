using System.Net;

namespace EchoPS.Commands
{
    /// <summary>Parses the -Address of a server: IP literals only, so what is exposed is never a guess.</summary>
    internal static class ListenAddress
    {
        internal const string Allowed =
            "an IPv4 or IPv6 literal such as 127.0.0.1 (loopback), ::1, 0.0.0.0 (all IPv4 interfaces) or :: (IPv4 and IPv6)";

        internal static bool TryParse(string text, out IPAddress address)
        {
            address = null;
            if (string.IsNullOrWhiteSpace(text))
                return false;
            var trimmed = text.Trim();
            if (trimmed.StartsWith("[") && trimmed.EndsWith("]"))
                trimmed = trimmed.Substring(1, trimmed.Length - 2);
            // IPAddress.TryParse takes "1" or "1.2" as IPv4 shorthand; a listen address must be spelled out.
            if (trimmed.IndexOf(':') < 0 && trimmed.Split('.').Length != 4)
                return false;
            return IPAddress.TryParse(trimmed, out address);
        }
    }
}
