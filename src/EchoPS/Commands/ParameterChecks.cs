using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace EchoPS.Commands
{
    /// <summary>
    /// For count parameters ([int], [long]): refuses a fractional argument, naming it, before PowerShell converts it.
    /// PowerShell rounds to even when it binds 0.5 to an integer, so 0.4 or 0.5 would become 0, which turns a limit
    /// off (0 = unlimited); 2.5 would quietly become 2. Whole numbers, in any numeric type or as text, pass through.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class WholeNumberAttribute : ArgumentTransformationAttribute
    {
        /// <inheritdoc />
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            if (value is IList list && !(value is string))
            {
                foreach (var item in list)
                    Check(item is PSObject w ? w.BaseObject : item);
                return inputData;
            }
            Check(value);
            return inputData;
        }

        private static void Check(object value)
        {
            double number;
            switch (value)
            {
                case double d: number = d; break;
                case float f: number = f; break;
                case decimal m: number = (double)m; break;
                case string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed): number = parsed; break;
                default: return;
            }
            if (double.IsNaN(number) || double.IsInfinity(number) || Math.Floor(number) != number)
                throw new ArgumentTransformationMetadataException(
                    $"{Convert.ToString(value, CultureInfo.InvariantCulture)} is not a whole number: this parameter takes whole numbers only " +
                    "(a fraction would be rounded, and 0 means unlimited).");
        }
    }

    /// <summary>
    /// For *Sec parameters ([double]): a finite number of seconds from 0 to a maximum, fractions allowed.
    /// <see cref="ToTimeSpan"/> turns it into the time the socket calls enforce.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class ValidateSecondsAttribute : ValidateArgumentsAttribute
    {
        /// <summary>Allows 0 to <paramref name="maxSeconds"/> seconds.</summary>
        public ValidateSecondsAttribute(double maxSeconds) => MaxSeconds = maxSeconds;

        /// <summary>The largest number of seconds allowed.</summary>
        public double MaxSeconds { get; }

        /// <summary>
        /// Seconds as a TimeSpan, rounded up to whole milliseconds (the resolution of socket timeouts): a
        /// non-zero value never becomes 0, which would mean "off".
        /// </summary>
        internal static TimeSpan ToTimeSpan(double seconds)
        {
            var milliseconds = (long)Math.Ceiling((decimal)seconds * 1000m);
            return TimeSpan.FromTicks(milliseconds * TimeSpan.TicksPerMillisecond);
        }

        /// <inheritdoc />
        protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
        {
            var value = arguments is PSObject wrapped ? wrapped.BaseObject : arguments;
            var seconds = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (double.IsNaN(seconds) || seconds < 0 || seconds > MaxSeconds)
                throw new ValidationMetadataException(
                    $"{seconds.ToString(CultureInfo.InvariantCulture)} seconds is out of range: allowed is 0 to {MaxSeconds.ToString(CultureInfo.InvariantCulture)} (fractions allowed, rounded up to whole milliseconds).");
        }
    }
}
