using System.Net;

namespace EchoPS
{
    /// <summary>The address rules the server, the client and the allowlist share, written once.</summary>
    internal static class Addressing
    {
        /// <summary>
        /// Parses an IP literal, optionally in brackets ("[::1]"). IPAddress.TryParse also takes "10" or "10.1" as
        /// IPv4 shorthand; here an IPv4 address must be spelled out in four parts, so such text is no address.
        /// </summary>
        internal static bool TryParseLiteral(string text, out IPAddress address)
        {
            address = null;
            var literal = text.Length > 1 && text[0] == '[' && text[text.Length - 1] == ']' ? text.Substring(1, text.Length - 2) : text;
            if (literal.IndexOf(':') < 0 && literal.Split('.').Length != 4)
                return false;
            return IPAddress.TryParse(literal, out address);
        }

        /// <summary>An IPv4 peer of a dual-stack socket arrives as ::ffff:a.b.c.d: this is the IPv4 address it is.</summary>
        internal static IPAddress Unmap(IPAddress address) =>
            address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

        /// <summary>The endpoint with its address unmapped, as <see cref="Unmap(IPAddress)"/> does.</summary>
        internal static IPEndPoint Unmap(IPEndPoint endPoint) =>
            endPoint != null && endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
    }
}
