using System;

namespace EchoPS.Client
{
    /// <summary>Ends a run (or one client of it) with a status other than Success; the message says what happened.</summary>
    internal sealed class EchoFailure : Exception
    {
        internal EchoFailure(EchoRoundTripStatus status, string message) : base(message)
        {
            Status = status;
        }

        internal EchoRoundTripStatus Status { get; }
    }
}
