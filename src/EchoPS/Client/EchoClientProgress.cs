namespace EchoPS.Client
{
    /// <summary>How far a long run has got, for a progress bar.</summary>
    public sealed class EchoClientProgress
    {
        internal EchoClientProgress(int percentComplete, string status)
        {
            PercentComplete = percentComplete;
            Status = status;
        }

        /// <summary>0 to 100, or -1 when the end is not known in advance.</summary>
        public int PercentComplete { get; }

        /// <summary>One line on what is done so far.</summary>
        public string Status { get; }
    }
}
