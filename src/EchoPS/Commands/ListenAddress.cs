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
            return !string.IsNullOrWhiteSpace(text) && Addressing.TryParseLiteral(text.Trim(), out address);
        }
    }
}
