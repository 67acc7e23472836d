using System.Net;

namespace EchoPS.Tests
{
    /// <summary>The shared address rules: canonical IP literals only, and client targets with an optional port.</summary>
    public class AddressingTests
    {
        [Theory]
        [InlineData("127.0.0.1", "127.0.0.1")]
        [InlineData("255.255.255.255", "255.255.255.255")]
        [InlineData("::1", "::1")]
        [InlineData("[::1]", "::1")]
        [InlineData("fd00::10", "fd00::10")]
        [InlineData("::ffff:10.1.2.3", "::ffff:10.1.2.3")]
        public void Reads_a_canonical_literal(string text, string expected)
        {
            Assert.True(Addressing.TryParseLiteral(text, out var address));
            Assert.Equal(IPAddress.Parse(expected), address);
        }

        [Theory]
        [InlineData("10")]            // inet_aton shorthand for 0.0.0.10
        [InlineData("10.1")]
        [InlineData("127.0.0.010")]   // octal: 127.0.0.8 to inet_aton
        [InlineData("0x7f.0.0.1")]    // hex
        [InlineData("256.0.0.1")]
        [InlineData("[127.0.0.1]")]   // only IPv6 goes in brackets
        [InlineData("localhost")]
        [InlineData("")]
        public void Refuses_text_that_is_no_canonical_literal_and_says_why(string text)
        {
            Assert.False(Addressing.TryParseLiteral(text, out var address));
            Assert.Null(address);
            Assert.False(string.IsNullOrEmpty(Addressing.ParseLiteral(text, out _)));
        }

        [Theory]
        [InlineData("localhost", "localhost", null, null)]
        [InlineData("localhost:9000", "localhost", null, 9000)]
        [InlineData("127.0.0.1:7", "127.0.0.1", "127.0.0.1", 7)]
        [InlineData("[::1]:8080", "::1", "::1", 8080)]
        [InlineData("[::1]", "::1", "::1", null)]
        [InlineData("fd00::10", "fd00::10", "fd00::10", null)] // a bare IPv6 literal: its colons are no port
        [InlineData(" echo.example ", "echo.example", null, null)]
        public void Splits_a_client_target_into_host_literal_and_port(string text, string host, string literal, int? port)
        {
            Assert.Null(Addressing.ParseTarget(text, out var h, out var l, out var p));
            Assert.Equal(host, h);
            Assert.Equal(literal == null ? null : IPAddress.Parse(literal), l);
            Assert.Equal(port, p);
        }

        [Theory]
        [InlineData("", "is blank")]
        [InlineData("localhost:0", "allowed is a number from 1 to 65535")]
        [InlineData("localhost:65536", "allowed is a number from 1 to 65535")]
        [InlineData("localhost:", "allowed is a number from 1 to 65535")]
        [InlineData("[::1", "has no closing bracket")]
        [InlineData("[::1]x", "after its closing bracket")]
        [InlineData(":8080", "has no host before its port")]
        [InlineData("127.0.0.010", "127.0.0.010")] // meant as IPv4, so never handed to a resolver
        public void Refuses_a_bad_target_naming_it(string text, string expected)
        {
            var problem = Addressing.ParseTarget(text, out _, out _, out _);
            Assert.NotNull(problem);
            Assert.Contains(expected, problem);
        }
    }
}
