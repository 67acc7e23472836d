using System;
using System.Net;
using System.Net.Sockets;
using EchoPS.Net;

namespace EchoPS.Server
{
    /// <summary>Why a server could not start listening.</summary>
    public enum StartFailure
    {
        /// <summary>Another socket already listens on the address and port.</summary>
        AddressInUse,
        /// <summary>The address is not one of this machine's (or its family is not supported here).</summary>
        AddressNotAvailable,
        /// <summary>The process may not bind the port (a privileged port without the right).</summary>
        PermissionDenied,
        /// <summary>Any other socket error; the message names it.</summary>
        SocketError,
    }

    /// <summary>A server failed to bind or listen; nothing was left open.</summary>
    public sealed class EchoServerStartException : Exception
    {
        internal EchoServerStartException(IPAddress address, int port, SocketException inner)
            : base(Describe(address, port, inner), inner)
        {
            Address = address;
            Port = port;
            Failure = Classify(inner.SocketErrorCode);
        }

        /// <summary>The address that was asked for.</summary>
        public IPAddress Address { get; }

        /// <summary>The port that was asked for.</summary>
        public int Port { get; }

        /// <summary>What kind of failure it was.</summary>
        public StartFailure Failure { get; }

        /// <summary>A bind or listen error as a start failure, from the shared table (<see cref="SocketErrors"/>).</summary>
        private static StartFailure Classify(SocketError error) => SocketErrors.Classify(error) switch
        {
            SocketFault.AddressInUse => StartFailure.AddressInUse,
            SocketFault.AddressNotAvailable or SocketFault.FamilyNotSupported => StartFailure.AddressNotAvailable,
            SocketFault.AccessDenied => StartFailure.PermissionDenied,
            _ => StartFailure.SocketError,
        };

        private static string Describe(IPAddress address, int port, SocketException inner)
        {
            var endpoint = new IPEndPoint(address, port);
            switch (Classify(inner.SocketErrorCode))
            {
                case StartFailure.AddressInUse:
                    return $"Cannot listen on {endpoint}: port {port} is already in use. Stop whatever holds it, or choose another port (0 picks a free one).";
                case StartFailure.AddressNotAvailable:
                    return $"Cannot listen on {endpoint}: address {address} is not available on this machine. Use one of its addresses, 127.0.0.1, ::1, 0.0.0.0 (all IPv4) or :: (IPv4 and IPv6).";
                case StartFailure.PermissionDenied:
                    return $"Cannot listen on {endpoint}: permission denied for port {port}. Ports below 1024 need administrator rights (or CAP_NET_BIND_SERVICE); use a port from 1024 to 65535.";
                default:
                    return $"Cannot listen on {endpoint}: {inner.SocketErrorCode} ({inner.Message}).";
            }
        }
    }
}
