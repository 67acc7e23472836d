using System;

namespace EchoPS.Client
{
    /// <summary>Ends a run (or one client of it) with a status other than Success; the message says what happened.</summary>
    internal sealed class EchoFailure : Exception
    {
        internal EchoFailure(EchoRoundTripStatus status, string message, bool namesTarget = false, bool isDeadline = false) : base(message)
        {
            Status = status;
            NamesTarget = namesTarget;
            IsDeadline = isDeadline;
        }

        internal EchoRoundTripStatus Status { get; }

        /// <summary>The message already names the target (resolve and connect failures do), so an error need not repeat it.</summary>
        internal bool NamesTarget { get; }

        /// <summary>The run reached its deadline: the result adds what was done by then.</summary>
        internal bool IsDeadline { get; }
    }
}
