using System;
using System.Linq;
using System.Net;

namespace EchoPS.Server
{
    /// <summary>What happened on an echo server.</summary>
    public enum EchoServerEventKind
    {
        /// <summary>The server bound its address and is accepting clients.</summary>
        Listening,
        /// <summary>A client was accepted and is being served.</summary>
        Connected,
        /// <summary>A served client's connection ended; the reason says why.</summary>
        Disconnected,
        /// <summary>A client was accepted and closed at once, without any echo; the reason says why.</summary>
        Rejected,
        /// <summary>The server stopped and released its port.</summary>
        Stopped,
        /// <summary>The server hit an error outside any one client's connection.</summary>
        Error,
        /// <summary>
        /// Client events above the event rate limit, folded into one row: counts by kind and reason, bytes and the
        /// busiest sources since the previous row.
        /// </summary>
        Summary,
    }

    /// <summary>Why a client's connection ended, or why a client was rejected.</summary>
    public enum DisconnectReason
    {
        /// <summary>The client closed its side (end of stream) after every byte it sent was echoed.</summary>
        ClientClosed,
        /// <summary>The client reset the connection or vanished mid-stream.</summary>
        ClientReset,
        /// <summary>A socket error other than a reset; the event's message names it.</summary>
        Error,
        /// <summary>The server was stopped while the client was connected.</summary>
        ServerStopping,
        /// <summary>The client sent nothing for the idle timeout.</summary>
        IdleTimeout,
        /// <summary>The client did not read its echo within the send timeout.</summary>
        SendTimeout,
        /// <summary>The client reached the per-connection byte cap.</summary>
        ByteLimit,
        /// <summary>The client reached the per-connection session time cap.</summary>
        SessionLimit,
        /// <summary>The client's address is not in the allowlist.</summary>
        NotAllowed,
        /// <summary>The client exceeded the connection rate limit.</summary>
        RateLimited,
        /// <summary>The client held the only slot for the slot-hold limit while other clients waited.</summary>
        SlotHoldLimit,
    }

    /// <summary>
    /// One thing that happened on an echo server: sizes, endpoints and times, never the payload.
    /// </summary>
    public sealed class EchoServerEvent
    {
        private EchoServerEvent(int serverId, EchoServerEventKind kind, string localEndPoint)
        {
            Timestamp = DateTime.Now;
            ServerId = serverId;
            Kind = kind;
            LocalEndPoint = localEndPoint;
        }

        // Times are DateTime, not DateTimeOffset: PowerShell serializes a DateTime exactly (jobs, remoting, Export-Clixml),
        // and turns a DateTimeOffset into text without its milliseconds. Local time here; the same instant on the
        // receiving side, in that side's local time.

        /// <summary>When the event happened (local time).</summary>
        public DateTime Timestamp { get; }

        /// <summary>The id of the server that raised the event.</summary>
        public int ServerId { get; }

        /// <summary>What happened.</summary>
        public EchoServerEventKind Kind { get; }

        // Endpoints are kept as text ("127.0.0.1:8080", "[::1]:8080") so that serialized events stay flat and stable.

        /// <summary>The server's bound endpoint.</summary>
        public string LocalEndPoint { get; }

        /// <summary>The client's endpoint, for client events.</summary>
        /// <remarks>Made text only when read: a folded event is never read, and costs no string.</remarks>
        public string RemoteEndPoint => _remoteText ?? (_remoteText = Remote?.ToString());

        private string _remoteText;

        /// <summary>The client's endpoint, for client events; what <see cref="RemoteEndPoint"/> shows.</summary>
        internal IPEndPoint Remote { get; private set; }

        /// <summary>Bytes read from the client (Disconnected), or from all clients (Stopped).</summary>
        public long BytesReceived { get; private set; }

        /// <summary>Bytes written back to the client (Disconnected), or to all clients (Stopped).</summary>
        public long BytesEchoed { get; private set; }

        /// <summary>How long the connection (Disconnected) or the server (Stopped) lasted, in milliseconds.</summary>
        public double? DurationMs { get; private set; }

        /// <summary>Why the connection ended (Disconnected) or was refused (Rejected).</summary>
        public DisconnectReason? Reason { get; private set; }

        /// <summary>Clients the server served in all (Stopped only; empty on other events, where a 0 would read as "none served").</summary>
        public long? ClientsServed { get; private set; }

        /// <summary>A short human-readable detail, such as the socket error's name.</summary>
        public string Message { get; private set; }

        /// <summary>Connected events folded into this row (Summary).</summary>
        public long FoldedConnected { get; private set; }

        /// <summary>Disconnected events folded into this row (Summary).</summary>
        public long FoldedDisconnected { get; private set; }

        /// <summary>Rejected events folded into this row (Summary).</summary>
        public long FoldedRejected { get; private set; }

        /// <summary>The sources with the most folded events, busiest first: "127.0.0.1 (12000), ::1 (3)" (Summary).</summary>
        public string BusiestSources { get; private set; }

        // Display text for the format views (module/EchoPS.Format.ps1xml), made here so that the views read plain
        // properties: cheap per row (no script block on a server's output path) and the same on a deserialized copy,
        // which carries these as text. Made only when read: a folded event is never read.

        /// <summary>Display: the client's endpoint, or the server's for server events (Listening, Stopped, Summary, Error).</summary>
        public string Endpoint => RemoteEndPoint ?? LocalEndPoint;

        /// <summary>Display: <see cref="BytesEchoed"/> for people ("1.5 KiB"), on the events that count bytes; empty on others.</summary>
        public string EchoedText =>
            Kind == EchoServerEventKind.Disconnected || Kind == EchoServerEventKind.Stopped || Kind == EchoServerEventKind.Summary
                ? Formatting.DisplayFormat.Bytes(BytesEchoed)
                : null;

        /// <summary>Display: <see cref="DurationMs"/> with the precision that matters at its size; empty without a duration.</summary>
        public string DurationText => Formatting.DisplayFormat.Milliseconds(DurationMs);

        /// <summary>
        /// Display: the reason and the detail in one text, "ClientReset: ConnectionReset", "NotAllowed: 127.0.0.2 is not
        /// in the allowlist", "12 clients served" (Stopped); the table view wraps it rather than cut it.
        /// </summary>
        public string ReasonDetail
        {
            get
            {
                string detail = Kind == EchoServerEventKind.Stopped
                    ? $"{ClientsServed} {(ClientsServed == 1 ? "client" : "clients")} served"
                    : Message;
                if (Reason == null)
                    return detail;
                return string.IsNullOrEmpty(detail) ? Reason.ToString() : Reason + ": " + detail;
            }
        }

        /// <summary>The exception behind an Error event; kept out of the public shape so that serialized events stay flat.</summary>
        internal Exception Exception { get; private set; }

        internal static EchoServerEvent Listening(int serverId, string local, string message) =>
            new EchoServerEvent(serverId, EchoServerEventKind.Listening, local) { Message = message };

        /// <summary>A client event (Connected, Disconnected, Rejected) as it is passed on; built only then (see <see cref="ClientEventFolder"/>).</summary>
        internal static EchoServerEvent Client(int serverId, string local, EchoServerEventKind kind, IPEndPoint remote,
            long received, long echoed, TimeSpan? duration, DisconnectReason? reason, string message) =>
            new EchoServerEvent(serverId, kind, local)
            {
                Remote = remote,
                BytesReceived = received,
                BytesEchoed = echoed,
                DurationMs = duration?.TotalMilliseconds,
                Reason = reason,
                Message = message,
            };

        internal static EchoServerEvent Stopped(int serverId, string local, long clientsServed, long received,
            long echoed, TimeSpan duration) =>
            new EchoServerEvent(serverId, EchoServerEventKind.Stopped, local)
            {
                ClientsServed = clientsServed,
                BytesReceived = received,
                BytesEchoed = echoed,
                DurationMs = duration.TotalMilliseconds,
            };

        internal static EchoServerEvent Summary(int serverId, string local, long connected, long disconnected,
            long rejected, long received, long echoed, TimeSpan span, string busiest, string message) =>
            new EchoServerEvent(serverId, EchoServerEventKind.Summary, local)
            {
                FoldedConnected = connected,
                FoldedDisconnected = disconnected,
                FoldedRejected = rejected,
                BytesReceived = received,
                BytesEchoed = echoed,
                DurationMs = span.TotalMilliseconds,
                BusiestSources = busiest,
                Message = message,
            };

        internal static EchoServerEvent Failure(int serverId, string local, Exception exception) =>
            new EchoServerEvent(serverId, EchoServerEventKind.Error, local)
            {
                Message = exception.Message,
                Exception = exception,
            };

        /// <inheritdoc />
        public override string ToString() =>
            string.Join(" ", new[]
            {
                Timestamp.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture), Kind.ToString(),
                RemoteEndPoint ?? LocalEndPoint, Reason?.ToString(),
                Kind == EchoServerEventKind.Stopped ? $"{ClientsServed} clients served" : Message,
            }.Where(part => !string.IsNullOrEmpty(part)));
    }
}
