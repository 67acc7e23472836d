using System;
using System.Net;
using System.Net.Sockets;

namespace EchoPS.LockDown
{
    /// <summary>An IPv4 or IPv6 CIDR range, such as 10.0.0.0/8, fd00::/8, or a single address.</summary>
    public sealed class AddressRange
    {
        private readonly byte[] _network;

        private AddressRange(IPAddress network, int prefixLength)
        {
            _network = network.GetAddressBytes();
            PrefixLength = prefixLength;
            Network = network;
        }

        /// <summary>The range's first address.</summary>
        public IPAddress Network { get; }

        /// <summary>How many leading bits must match.</summary>
        public int PrefixLength { get; }

        /// <summary>
        /// Parses "address" or "address/prefix". A range with host bits set (10.0.0.1/8) is refused, naming the range
        /// it would be (10.0.0.0/8): it may be a typo for a single address or another prefix, and silently widening it
        /// would allow more than was written. An IPv4-mapped range (::ffff:10.0.0.0/104) is the IPv4 range it maps (10.0.0.0/8),
        /// as IPv4 clients of a dual-stack socket match as IPv4. Addresses must be canonical (see
        /// <see cref="Addressing.TryParseLiteral"/>) and the prefix a plain decimal number. Throws
        /// <see cref="FormatException"/> naming the value and what is allowed.
        /// </summary>
        public static AddressRange Parse(string text)
        {
            if (string.IsNullOrWhiteSpace(text))
                throw new FormatException("An allowlist entry is empty: use an address (192.168.1.10, ::1) or a CIDR range (10.0.0.0/8, fd00::/8).");
            var trimmed = text.Trim();
            var slash = trimmed.IndexOf('/');
            var addressText = slash < 0 ? trimmed : trimmed.Substring(0, slash);
            var problem = Addressing.ParseLiteral(addressText, out var address);
            if (problem != null)
                throw new FormatException((slash < 0 ? problem : $"'{text}' is not an address or CIDR range: {problem}") +
                    " Use an address (192.168.1.10, ::1) or a CIDR range (10.0.0.0/8, fd00::/8).");
            bool mapped = address.IsIPv4MappedToIPv6;
            var maxPrefix = mapped ? 128 : address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            var minPrefix = mapped ? 96 : 0;
            var prefix = maxPrefix;
            if (slash >= 0 && (!TryParsePrefix(trimmed.Substring(slash + 1), out prefix) || prefix < minPrefix || prefix > maxPrefix))
                throw new FormatException(mapped
                    ? $"'{text}' has a bad prefix length for an IPv4-mapped range: allowed is 96 to 128 (96 plus the IPv4 prefix length), or write the IPv4 range ({address.MapToIPv4()}/8)."
                    : $"'{text}' has a bad prefix length: allowed is a decimal number from 0 to {maxPrefix} for {(maxPrefix == 32 ? "IPv4" : "IPv6")}.");
            if (mapped)
            {
                address = address.MapToIPv4();
                prefix -= 96;
            }
            var network = Mask(address, prefix);
            if (!network.Equals(address))
                throw new FormatException(
                    $"'{text}' has host bits set: {address} is not the first address of a /{prefix} range. Write the range as {network}/{prefix}, " +
                    $"or the one address as {address} alone.");
            return new AddressRange(network, prefix);
        }

        /// <summary>Whether <paramref name="address"/> lies in this range; an IPv4-mapped IPv6 address matches as IPv4.</summary>
        public bool Contains(IPAddress address)
        {
            var bytes = Addressing.Unmap(address).GetAddressBytes();
            if (bytes.Length != _network.Length)
                return false;
            int fullBytes = PrefixLength / 8, restBits = PrefixLength % 8;
            for (int i = 0; i < fullBytes; i++)
            {
                if (bytes[i] != _network[i])
                    return false;
            }
            if (restBits == 0)
                return true;
            int mask = 0xFF << (8 - restBits) & 0xFF;
            return (bytes[fullBytes] & mask) == _network[fullBytes];
        }

        /// <inheritdoc />
        public override string ToString() => $"{Network}/{PrefixLength}";

        private static bool TryParsePrefix(string text, out int prefix)
        {
            prefix = -1;
            // Digits only: no sign ("-0", "+8"), no blanks, no leading zeros.
            if (text.Length == 0 || text.Length > 3 || (text.Length > 1 && text[0] == '0'))
                return false;
            foreach (var c in text)
            {
                if (c < '0' || c > '9')
                    return false;
            }
            prefix = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            return true;
        }

        private static IPAddress Mask(IPAddress address, int prefix)
        {
            var bytes = address.GetAddressBytes();
            for (int bit = prefix; bit < bytes.Length * 8; bit++)
                bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            return new IPAddress(bytes);
        }
    }
}
