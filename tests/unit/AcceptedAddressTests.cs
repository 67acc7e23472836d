using System.Net;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>
    /// The accept path's sockaddr parsing (LinuxSocketCalls.ToAddress): address and port as the kernel filled them,
    /// IPv4-mapped addresses unmapped, and the previous client's IPAddress object reused when the address is the same.
    /// </summary>
    public class AcceptedAddressTests
    {
        private static byte[] V4(byte a, byte b, byte c, byte d, int port) =>
            new byte[] { 2, 0, (byte)(port >> 8), (byte)port, a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

        private static byte[] V6(IPAddress address, int port, uint scope = 0)
        {
            var sockaddr = new byte[LinuxSocketCalls.AddressBufferSize];
            sockaddr[0] = 10;
            sockaddr[2] = (byte)(port >> 8);
            sockaddr[3] = (byte)port;
            Array.Copy(address.GetAddressBytes(), 0, sockaddr, 8, 16);
            BitConverter.GetBytes(scope).CopyTo(sockaddr, 24);
            return sockaddr;
        }

        [Fact]
        public void The_same_address_is_one_object_and_a_new_one_is_made_when_it_changes()
        {
            var cache = new LinuxSocketCalls.AddressCache();
            var first = LinuxSocketCalls.ToAddress(V4(127, 0, 0, 1, 40001), cache, out int port1);
            var second = LinuxSocketCalls.ToAddress(V4(127, 0, 0, 1, 40002), cache, out int port2);
            var other = LinuxSocketCalls.ToAddress(V4(127, 0, 0, 2, 40003), cache, out int port3);
            Assert.Equal(IPAddress.Loopback, first);
            Assert.Same(first, second);
            Assert.Equal((40001, 40002, 40003), (port1, port2, port3));
            Assert.Equal(IPAddress.Parse("127.0.0.2"), other);
            Assert.NotSame(first, other);
        }

        [Fact]
        public void IPv6_keeps_its_scope_and_a_mapped_IPv4_address_is_unmapped()
        {
            var cache = new LinuxSocketCalls.AddressCache();
            var linkLocal = LinuxSocketCalls.ToAddress(V6(IPAddress.Parse("fe80::1"), 5000, 3), cache, out int port);
            Assert.Equal(5000, port);
            Assert.Equal(3, linkLocal.ScopeId);
            var otherScope = LinuxSocketCalls.ToAddress(V6(IPAddress.Parse("fe80::1"), 5001, 4), cache, out _);
            Assert.Equal(4, otherScope.ScopeId);
            var mapped = LinuxSocketCalls.ToAddress(V6(IPAddress.Parse("::ffff:192.0.2.9"), 5002), cache, out _);
            Assert.Equal(IPAddress.Parse("192.0.2.9"), mapped);
            Assert.Same(mapped, LinuxSocketCalls.ToAddress(V6(IPAddress.Parse("::ffff:192.0.2.9"), 5003), cache, out _));
            // An IPv4 sockaddr after an IPv6 one with the same leading bytes is still read as IPv4.
            Assert.Equal(IPAddress.Parse("192.0.2.9"), LinuxSocketCalls.ToAddress(V4(192, 0, 2, 9, 5004), cache, out _));
        }
    }
}
