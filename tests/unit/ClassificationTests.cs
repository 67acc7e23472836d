using System.Net;
using System.Net.Sockets;
using EchoPS.Client;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>
    /// The tables that turn socket errors into statuses: the client's run status and the server's start failure.
    /// (The server's disconnect classification is private to the running server and depends on its session state;
    /// the Pester suite covers it through real sockets.)
    /// </summary>
    public class ClassificationTests
    {
        [Theory]
        [InlineData(SocketError.ConnectionRefused, EchoRoundTripStatus.Refused)]
        [InlineData(SocketError.TimedOut, EchoRoundTripStatus.TimedOut)]
        [InlineData(SocketError.WouldBlock, EchoRoundTripStatus.TimedOut)] // SO_RCVTIMEO running out is EAGAIN
        [InlineData(SocketError.ConnectionReset, EchoRoundTripStatus.Reset)]
        [InlineData(SocketError.ConnectionAborted, EchoRoundTripStatus.Reset)]
        [InlineData(SocketError.Shutdown, EchoRoundTripStatus.Reset)] // EPIPE: writing after the server closed
        [InlineData(SocketError.HostUnreachable, EchoRoundTripStatus.Unreachable)]
        [InlineData(SocketError.NetworkUnreachable, EchoRoundTripStatus.Unreachable)]
        [InlineData(SocketError.HostDown, EchoRoundTripStatus.Unreachable)]
        [InlineData(SocketError.NetworkDown, EchoRoundTripStatus.Unreachable)]
        [InlineData(SocketError.AddressNotAvailable, EchoRoundTripStatus.Unreachable)]
        [InlineData(SocketError.AccessDenied, EchoRoundTripStatus.Failed)]
        [InlineData(SocketError.NoBufferSpaceAvailable, EchoRoundTripStatus.Failed)]
        public void Client_turns_a_socket_error_into_a_status(SocketError error, EchoRoundTripStatus expected)
        {
            Assert.Equal(expected, EchoClient.Classify(new SocketException((int)error)));
        }

        [Fact]
        public void Client_reports_anything_but_a_socket_error_as_Failed()
        {
            Assert.Equal(EchoRoundTripStatus.Failed, EchoClient.Classify(new ObjectDisposedException("socket")));
            Assert.Equal(EchoRoundTripStatus.Failed, EchoClient.Classify(new InvalidOperationException()));
        }

        [Theory]
        [InlineData(SocketError.AddressAlreadyInUse, StartFailure.AddressInUse, "port 8080 is already in use")]
        [InlineData(SocketError.AddressNotAvailable, StartFailure.AddressNotAvailable, "address 192.0.2.1 is not available on this machine")]
        [InlineData(SocketError.AddressFamilyNotSupported, StartFailure.AddressNotAvailable, "is not available")]
        [InlineData(SocketError.ProtocolFamilyNotSupported, StartFailure.AddressNotAvailable, "is not available")]
        [InlineData(SocketError.AccessDenied, StartFailure.PermissionDenied, "permission denied for port 8080")]
        [InlineData(SocketError.TooManyOpenSockets, StartFailure.SocketError, "TooManyOpenSockets")]
        public void Server_start_failures_are_classified_and_name_the_endpoint(SocketError error, StartFailure expected, string message)
        {
            var address = IPAddress.Parse("192.0.2.1");
            var ex = new EchoServerStartException(address, 8080, new SocketException((int)error));
            Assert.Equal(expected, ex.Failure);
            Assert.Equal(address, ex.Address);
            Assert.Equal(8080, ex.Port);
            Assert.StartsWith("Cannot listen on 192.0.2.1:8080: ", ex.Message);
            Assert.Contains(message, ex.Message);
        }
    }
}
