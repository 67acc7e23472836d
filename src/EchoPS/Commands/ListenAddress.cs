using System.Net;
using System.Net.Sockets;

namespace EchoPS.Commands
{
    /// <summary>Parses the -Address of a server: IP literals only, so what is exposed is never a guess.</summary>
    internal static class ListenAddress
    {
        internal const string Allowed =
            "an IPv4 or IPv6 literal such as 127.0.0.1 (loopback), ::1, 0.0.0.0 (all IPv4 interfaces) or :: (IPv4 and IPv6)";

        /// <summary>Parses a listen address; returns null when it is one, otherwise why not, naming the value.</summary>
        internal static string Parse(string text, out IPAddress address)
        {
            address = null;
            if (string.IsNullOrWhiteSpace(text))
                return $"'{text}' is not a valid listen address: use {Allowed}.";
            var problem = Addressing.ParseLiteral(text.Trim(), out address);
            if (problem != null)
                return $"{problem} A listen address must be {Allowed}.";
            if (address.IsIPv4MappedToIPv6)
                return $"'{text}' is an IPv4-mapped IPv6 address: bind {address.MapToIPv4()} for IPv4 only, or :: for IPv4 and IPv6.";
            if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0 && !address.IsIPv6LinkLocal)
                return $"'{text}' has a zone index (%...), which only a link-local address (fe80::/10) takes: bind {new IPAddress(address.GetAddressBytes())}.";
            if (IsMulticast(address))
                return $"'{text}' is a multicast address: a TCP server listens on a unicast address, such as {Allowed}.";
            if (address.Equals(IPAddress.Broadcast))
                return $"'{text}' is the broadcast address: a TCP server listens on a unicast address, such as {Allowed}.";
            return null;
        }

        private static bool IsMulticast(IPAddress address) =>
            address.AddressFamily == AddressFamily.InterNetworkV6
                ? address.IsIPv6Multicast
                : (address.GetAddressBytes()[0] & 0xF0) == 0xE0;
    }
}
