using System;
using System.IO;
using System.Management.Automation;
using System.Linq;
using EchoPS.Client;
using EchoPS.Measure;
using EchoPS.Server;

namespace EchoPS.Errors
{
    /// <summary>
    /// Every ErrorRecord the module writes, in one place, so that error ids stay stable: scripts match on them. Used by
    /// the cmdlets and the job alike (a namespace of its own, so that neither depends on the other for it).
    /// </summary>
    internal static class EchoErrors
    {
        internal static ErrorRecord StartFailed(EchoServerStartException ex)
        {
            switch (ex.Failure)
            {
                case StartFailure.AddressInUse:
                    return new ErrorRecord(ex, "PortInUse", ErrorCategory.ResourceUnavailable, ex.Port);
                case StartFailure.AddressNotAvailable:
                    return new ErrorRecord(ex, "AddressNotAvailable", ErrorCategory.InvalidArgument, ex.Address);
                case StartFailure.PermissionDenied:
                    return new ErrorRecord(ex, "PermissionDenied", ErrorCategory.PermissionDenied, ex.Port);
                default:
                    return new ErrorRecord(ex, "ListenFailed", ErrorCategory.OpenError, ex.Port);
            }
        }

        internal static ErrorRecord InvalidArgument(string errorId, string message, object value) =>
            new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, value);

        internal static ErrorRecord ServerFailure(EchoServerEvent e) =>
            new ErrorRecord(e.Exception ?? new InvalidOperationException(e.Message), "ServerSocketError",
                ErrorCategory.ConnectionError, e.LocalEndPoint);

        internal static ErrorRecord ServerNotFound(string message, object value) =>
            new ErrorRecord(new ArgumentException(message), "ServerNotFound", ErrorCategory.ObjectNotFound, value);

        internal static ErrorRecord StopTimedOut(EchoServer server) =>
            new ErrorRecord(new TimeoutException($"Server {server.Id} on {server.LocalEndPoint} did not stop within the time allowed."),
                "StopTimedOut", ErrorCategory.OperationTimeout, server);

        internal static ErrorRecord NotAServer(PSObject value) =>
            new ErrorRecord(new ArgumentException(
                    $"Cannot stop {Describe(value)}: pipe in a server from Get-BlockingEchoServer, a job from Start-BlockingEchoServer -AsJob, " +
                    "or an object with a ServerId or Port property."),
                "NotAnEchoServer", ErrorCategory.InvalidArgument, value);

        // The type, and the text only when it is short: the error must not repeat a whole object.
        private static string Describe(PSObject value)
        {
            if (value == null)
                return "$null";
            var type = value.TypeNames.Count > 0 ? value.TypeNames[0] : value.BaseObject.GetType().FullName;
            var text = value.BaseObject is PSCustomObject ? null : value.ToString();
            return text != null && text.Length <= 40 && text != type ? $"'{text}' ({type})" : $"an object of type {type}";
        }

        /// <summary>
        /// A failed echo test, written after its result: the id is "Echo" plus the status (EchoRefused,
        /// EchoTimedOut, EchoMismatch...), so that scripts can tell failures apart.
        /// </summary>
        internal static ErrorRecord RoundTripFailed(EchoRoundTripResult result)
        {
            // Connect and resolve failures already name where they went (the engine says so); the others get the target.
            var message = result.MessageNamesTarget ? result.Message : $"{result.TargetName} port {result.Port}: {result.Message}";
            Exception exception;
            ErrorCategory category;
            switch (result.Status)
            {
                case EchoRoundTripStatus.Unresolved:
                    exception = new IOException(message);
                    category = ErrorCategory.ObjectNotFound;
                    break;
                case EchoRoundTripStatus.TimedOut:
                    exception = new TimeoutException(message);
                    category = ErrorCategory.OperationTimeout;
                    break;
                case EchoRoundTripStatus.Mismatch:
                    exception = new InvalidDataException(message);
                    category = ErrorCategory.InvalidResult;
                    break;
                case EchoRoundTripStatus.Incomplete:
                case EchoRoundTripStatus.ClosedEarly:
                    exception = new EndOfStreamException(message);
                    category = ErrorCategory.ReadError;
                    break;
                default:
                    exception = new IOException(message);
                    category = ErrorCategory.ConnectionError;
                    break;
            }
            return new ErrorRecord(exception, "Echo" + result.Status, category, result);
        }

        /// <summary>A measured server with failures, written after its result: what failed, per figure, and how often.</summary>
        internal static ErrorRecord MeasureFailed(EchoServerMeasurement m) =>
            new ErrorRecord(new IOException($"{m.Name} ({m.Target}): {m.ErrorCount} failure(s): "
                    + string.Join("; ", m.Errors.Select(e => $"{e.Figure} {e.Status} x{e.Count}: {e.Message}"))),
                "EchoMeasureFailed", ErrorCategory.InvalidResult, m);
    }
}
