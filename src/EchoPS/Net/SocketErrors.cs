using System;
using System.Net.Sockets;

namespace EchoPS.Net
{
    /// <summary>
    /// What a socket error means, independent of who met it. Server and client each turn a fault into their own
    /// typed status (<c>DisconnectReason</c>, <c>StartFailure</c>, <c>EchoRoundTripStatus</c>) from this one table.
    /// </summary>
    public enum SocketFault
    {
        /// <summary>A socket timeout ran out (ETIMEDOUT, or EAGAIN from SO_RCVTIMEO/SO_SNDTIMEO).</summary>
        TimedOut,
        /// <summary>Nothing listens there (ECONNREFUSED).</summary>
        Refused,
        /// <summary>The peer reset or aborted the connection, or it was written after the peer closed (EPIPE).</summary>
        Reset,
        /// <summary>No route to the host or network, or it is down.</summary>
        Unreachable,
        /// <summary>Another socket holds the address and port.</summary>
        AddressInUse,
        /// <summary>The address is not one of this machine's.</summary>
        AddressNotAvailable,
        /// <summary>The address family (or protocol family) is not supported here.</summary>
        FamilyNotSupported,
        /// <summary>Not permitted (a privileged port, a firewall rule).</summary>
        AccessDenied,
        /// <summary>The socket was closed under the call (a stop, a cancel or a deadline closed it).</summary>
        Closed,
        /// <summary>Anything else; the error's own name says what.</summary>
        Other,
    }

    /// <summary>The one table from socket errors to <see cref="SocketFault"/>, and how an error is named in messages.</summary>
    internal static class SocketErrors
    {
        /// <summary>What <paramref name="error"/> means.</summary>
        internal static SocketFault Classify(SocketError error)
        {
            switch (error)
            {
                case SocketError.TimedOut:
                case SocketError.WouldBlock: // SO_RCVTIMEO or SO_SNDTIMEO running out is EAGAIN
                    return SocketFault.TimedOut;
                case SocketError.ConnectionRefused:
                    return SocketFault.Refused;
                case SocketError.ConnectionReset:
                case SocketError.ConnectionAborted:
                case SocketError.Shutdown: // EPIPE: writing after the peer closed
                    return SocketFault.Reset;
                case SocketError.HostUnreachable:
                case SocketError.NetworkUnreachable:
                case SocketError.HostDown:
                case SocketError.NetworkDown:
                    return SocketFault.Unreachable;
                case SocketError.AddressAlreadyInUse:
                    return SocketFault.AddressInUse;
                case SocketError.AddressNotAvailable:
                    return SocketFault.AddressNotAvailable;
                case SocketError.AddressFamilyNotSupported:
                case SocketError.ProtocolFamilyNotSupported:
                    return SocketFault.FamilyNotSupported;
                case SocketError.AccessDenied:
                    return SocketFault.AccessDenied;
                default:
                    return SocketFault.Other;
            }
        }

        /// <summary>What an exception from a socket call means: a closed socket is <see cref="SocketFault.Closed"/>, a non-socket error <see cref="SocketFault.Other"/>.</summary>
        internal static SocketFault Classify(Exception ex)
        {
            if (ex is SocketException socketError)
                return Classify(socketError.SocketErrorCode);
            return ex is ObjectDisposedException ? SocketFault.Closed : SocketFault.Other;
        }

        /// <summary>Whether <paramref name="ex"/> is a socket timeout running out.</summary>
        internal static bool IsTimeout(Exception ex) =>
            ex is SocketException socketError && Classify(socketError.SocketErrorCode) == SocketFault.TimedOut;

        /// <summary>An error as messages name it: "ConnectionRefused (Connection refused)", or the exception's message.</summary>
        internal static string Describe(Exception ex) =>
            ex is SocketException socketError ? $"{socketError.SocketErrorCode} ({socketError.Message})" : ex.Message;
    }
}
