using System.Linq;
using System.Net;
using EchoPS.LockDown;

namespace EchoPS.Tests
{
    /// <summary>Allowlist ranges: parsing, containment for IPv4, IPv6 (prefixes that cut a byte) and IPv4-mapped addresses.</summary>
    public class AddressRangeTests
    {
        [Theory]
        [InlineData("10.0.0.0/8", "10.0.0.0/8")]
        [InlineData("192.168.1.10", "192.168.1.10/32")]
        [InlineData(" 172.16.0.0/12 ", "172.16.0.0/12")]
        [InlineData("0.0.0.0/0", "0.0.0.0/0")]
        [InlineData("::1", "::1/128")]
        [InlineData("[::1]", "::1/128")]
        [InlineData("fe80::/10", "fe80::/10")]
        [InlineData("2001:db8:0:80::/57", "2001:db8:0:80::/57")]
        [InlineData("::ffff:10.0.0.0/104", "10.0.0.0/8")] // an IPv4-mapped range is the IPv4 range it maps
        [InlineData("::ffff:10.1.2.3", "10.1.2.3/32")]
        [InlineData("::ffff:0:0/96", "0.0.0.0/0")]
        public void Parses_an_address_or_range_to_its_network(string text, string expected)
        {
            Assert.Equal(expected, AddressRange.Parse(text).ToString());
        }

        [Theory]
        [InlineData("", "is empty")]
        [InlineData("   ", "is empty")]
        [InlineData("localhost", "'localhost' is not an IP address")]
        [InlineData("10/8", "'10/8' is not an address or CIDR range")]
        [InlineData("10.0.0.0/33", "from 0 to 32 for IPv4")]
        // Host bits set: refused naming the range it would be, never widened silently (issue 23, item 8).
        [InlineData("10.0.0.1/8", "'10.0.0.1/8' has host bits set: 10.0.0.1 is not the first address of a /8 range. Write the range as 10.0.0.0/8")]
        [InlineData("10.1.2.3/8", "Write the range as 10.0.0.0/8, or the one address as 10.1.2.3 alone")]
        [InlineData("fe80::1234/10", "Write the range as fe80::/10")]
        [InlineData("2001:db8:0:ff::/57", "Write the range as 2001:db8:0:80::/57")]
        [InlineData("::ffff:10.1.2.3/104", "Write the range as 10.0.0.0/8")]
        [InlineData("10.0.0.0/-1", "from 0 to 32 for IPv4")]
        [InlineData("10.0.0.0/", "from 0 to 32 for IPv4")]
        [InlineData("fd00::/129", "from 0 to 128 for IPv6")]
        [InlineData("fd00::/x", "from 0 to 128 for IPv6")]
        // Text that inet_aton would read as another address (octal, hex) is refused, not reinterpreted.
        [InlineData("127.0.0.010", "'127.0.0.010' is not a canonical IPv4 address")]
        [InlineData("0x7f.0.0.1/8", "'0x7f.0.0.1/8' is not an address or CIDR range")]
        // A mapped range's prefix counts the 96 bits of ::ffff:0:0/96 too.
        [InlineData("::ffff:10.0.0.0/8", "allowed is 96 to 128")]
        public void Refuses_bad_text_with_a_message_naming_it_and_what_is_allowed(string text, string expected)
        {
            var ex = Assert.Throws<FormatException>(() => AddressRange.Parse(text));
            Assert.Contains(expected, ex.Message);
        }

        [Theory]
        [InlineData("10.0.0.0/8", "10.255.255.255", true)]
        [InlineData("10.0.0.0/8", "11.0.0.0", false)]
        [InlineData("172.16.0.0/12", "172.31.1.1", true)]
        [InlineData("172.16.0.0/12", "172.32.0.0", false)]
        [InlineData("192.168.1.10", "192.168.1.10", true)]
        [InlineData("192.168.1.10", "192.168.1.11", false)]
        [InlineData("0.0.0.0/0", "203.0.113.9", true)]
        [InlineData("0.0.0.0/0", "::1", false)] // families never match each other
        [InlineData("::/0", "127.0.0.1", false)]
        // /10 cuts the second byte: fe80::/10 is fe80:: to febf:ffff:...
        [InlineData("fe80::/10", "fe80::1", true)]
        [InlineData("fe80::/10", "febf:ffff::1", true)]
        [InlineData("fe80::/10", "fec0::1", false)]
        [InlineData("fe80::/10", "fe7f::1", false)]
        // /57 cuts the eighth byte: the fourth group's first nine bits are 0000 0000 1.
        [InlineData("2001:db8:0:80::/57", "2001:db8:0:ff:ffff::1", true)]
        [InlineData("2001:db8:0:80::/57", "2001:db8:0:7f::1", false)]
        [InlineData("2001:db8:0:80::/57", "2001:db8:0:100::1", false)]
        // A client of a dual-stack socket arrives IPv4-mapped and matches as IPv4.
        [InlineData("10.0.0.0/8", "::ffff:10.9.9.9", true)]
        [InlineData("10.0.0.0/8", "::ffff:11.9.9.9", false)]
        [InlineData("::ffff:10.0.0.0/104", "10.9.9.9", true)]
        [InlineData("::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true)]
        [InlineData("::ffff:10.0.0.0/104", "11.9.9.9", false)]
        [InlineData("127.0.0.1", "::ffff:127.0.0.1", true)]
        public void Contains_exactly_the_addresses_of_its_range(string range, string address, bool expected)
        {
            Assert.Equal(expected, AddressRange.Parse(range).Contains(IPAddress.Parse(address)));
        }

        /// <summary>The law: an address lies in a range iff its first prefix bits equal the network's.</summary>
        [Property(MaxTest = 1000)]
        public Property An_address_is_in_a_range_iff_its_first_prefix_bits_equal_the_networks()
        {
            var cases =
                from length in Gen.Elements(4, 16)
                from network in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length)
                from prefix in Gen.Choose(0, length * 8)
                // A candidate near the network (a few bits flipped) as often as a random one, so both outcomes occur.
                from flips in Gen.ListOf(Gen.Choose(0, length * 8 - 1))
                from random in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length)
                from near in Gen.Elements(true, false)
                select (network, prefix, candidate: near ? Flip(network, flips.ToArray()) : random);
            return Prop.ForAll(cases.ToArbitrary(), c =>
            {
                var network = Masked(c.network, c.prefix);
                var range = AddressRange.Parse($"{new IPAddress(network)}/{c.prefix}");
                bool expected = FirstBitsEqual(c.network, c.candidate, c.prefix);
                return range.Contains(new IPAddress(c.candidate)) == expected
                    && range.PrefixLength == c.prefix
                    && FirstBitsEqual(range.Network.GetAddressBytes(), c.network, c.prefix)
                    && range.Contains(range.Network);
            });
        }

        /// <summary>A range written with host bits set is refused, never widened; one without them is taken.</summary>
        [Property(MaxTest = 500)]
        public Property A_range_with_host_bits_set_is_refused()
        {
            var cases =
                from length in Gen.Elements(4, 16)
                from address in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length)
                from prefix in Gen.Choose(0, length * 8)
                select (address, prefix);
            return Prop.ForAll(cases.ToArbitrary(), c =>
            {
                var text = $"{new IPAddress(c.address)}/{c.prefix}";
                bool hostBits = !Masked(c.address, c.prefix).SequenceEqual(c.address);
                try
                {
                    AddressRange.Parse(text);
                    return !hostBits;
                }
                catch (FormatException ex)
                {
                    return hostBits && ex.Message.Contains($"Write the range as {new IPAddress(Masked(c.address, c.prefix))}/{c.prefix}");
                }
            });
        }

        private static byte[] Masked(byte[] bytes, int prefix)
        {
            var copy = (byte[])bytes.Clone();
            for (int bit = prefix; bit < copy.Length * 8; bit++)
                copy[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            return copy;
        }

        private static byte[] Flip(byte[] bytes, int[] bits)
        {
            var copy = (byte[])bytes.Clone();
            foreach (var bit in bits)
                copy[bit / 8] ^= (byte)(0x80 >> (bit % 8));
            return copy;
        }

        /// <summary>The rule spelled out bit by bit, independently of the code under test.</summary>
        private static bool FirstBitsEqual(byte[] a, byte[] b, int bits)
        {
            for (int i = 0; i < bits; i++)
            {
                int mask = 0x80 >> (i % 8);
                if ((a[i / 8] & mask) != (b[i / 8] & mask))
                    return false;
            }
            return true;
        }
    }
}
