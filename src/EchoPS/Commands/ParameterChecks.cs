using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.RegularExpressions;

namespace EchoPS.Commands
{
    /// <summary>
    /// The one conversion every number parameter (a limit, a count, a port, an id, seconds) goes through before
    /// PowerShell converts it to the parameter's type. It takes numbers and text that plainly is a number written in
    /// decimal, and refuses everything else naming the value and what is allowed: an empty string or $null (which
    /// PowerShell would turn into 0, and 0 switches a limit off), $true/$false (which would become 1 or 0), NaN and
    /// infinity, text such as '0x10' or '1kb', characters, and, where a whole number is meant, any fraction
    /// (PowerShell rounds 0.5 to 0 and 2.5 to 2). The range is checked after it, by the parameter's ValidateRange.
    /// tests/pester/Parameters.Tests.ps1 checks by reflection that every numeric parameter of every cmdlet has it.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public abstract class NumberArgumentAttribute : ArgumentTransformationAttribute
    {
        private static readonly Regex Decimal = new Regex(@"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", RegexOptions.CultureInvariant);
        private static readonly Regex Digits = new Regex(@"^[+-]?\d+$", RegexOptions.CultureInvariant);

        private protected NumberArgumentAttribute(bool whole) => Whole = whole;

        /// <summary>Whether only whole numbers are allowed (counts, limits, ports, ids); otherwise seconds, fractions allowed.</summary>
        public bool Whole { get; }

        /// <summary>What the parameter takes, for the error message.</summary>
        public string Allowed => Whole
            ? "a whole number, given as a number or as decimal digits (for example 5); a fraction is never rounded"
            : "a number of seconds, given as a number or in decimal (for example 2 or 0.5)";

        /// <inheritdoc />
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            var value = Unwrap(inputData);
            if (value is IList list && !(value is string))
            {
                var numbers = new object[list.Count];
                for (int i = 0; i < list.Count; i++)
                    numbers[i] = Convert(Unwrap(list[i]), list.Count > 1 ? $" (item {i})" : "");
                return numbers;
            }
            return Convert(value, "");
        }

        /// <summary>The value as a number, or throws naming it and what is allowed.</summary>
        internal object Convert(object value, string where)
        {
            var problem = Read(value, Whole, out var number);
            if (problem != null)
                throw new ArgumentTransformationMetadataException($"{problem}{where}: this parameter takes {Allowed}.");
            return number;
        }

        /// <summary>
        /// The conversion itself: null when <paramref name="value"/> plainly is a number of the kind wanted (returned in
        /// <paramref name="number"/>), otherwise what is wrong with it, naming it.
        /// </summary>
        internal static string Read(object value, bool whole, out object number)
        {
            number = null;
            switch (value)
            {
                case null:
                    return "$null is not a number";
                case bool b:
                    return $"${b.ToString().ToLowerInvariant()} (a boolean) is not a number";
                case SwitchParameter s:
                    return $"${s.IsPresent.ToString().ToLowerInvariant()} (a switch) is not a number";
                case int _: case long _: case short _: case byte _: case sbyte _: case uint _: case ushort _: case ulong _:
                    number = value;
                    return null;
                case double d:
                    return ReadReal(d, d.ToString("R", CultureInfo.InvariantCulture), whole, value, out number);
                case float f:
                    return ReadReal(f, f.ToString("R", CultureInfo.InvariantCulture), whole, value, out number);
                case decimal m:
                    if (whole && decimal.Truncate(m) != m)
                        return $"{m.ToString(CultureInfo.InvariantCulture)} is not a whole number";
                    number = value;
                    return null;
                case string text:
                    return ReadText(text, whole, out number);
                default:
                    var type = value.GetType();
                    return $"{Shorten(System.Convert.ToString(value, CultureInfo.InvariantCulture))} (a {(type.IsEnum ? "value of the enumeration " : "")}{type.Name}) is not a number";
            }
        }

        private static string ReadReal(double d, string text, bool whole, object value, out object number)
        {
            number = null;
            if (double.IsNaN(d) || double.IsInfinity(d))
                return $"{text} is not a finite number";
            if (whole && Math.Floor(d) != d)
                return $"{text} is not a whole number";
            number = value;
            return null;
        }

        private static string ReadText(string text, bool whole, out object number)
        {
            number = null;
            var trimmed = text.Trim();
            if (trimmed.Length == 0)
                return text.Length == 0 ? "'' (an empty string) is not a number" : $"'{text}' (blank text) is not a number";
            if (!Decimal.IsMatch(trimmed))
                return $"'{Shorten(text)}' is not a number written in decimal";
            if (whole && Digits.IsMatch(trimmed))
            {
                if (!decimal.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var big))
                    return $"'{Shorten(text)}' is too large a number";
                number = big;
                return null;
            }
            if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                return $"'{Shorten(text)}' is not a number written in decimal";
            if (double.IsInfinity(d))
                return $"'{Shorten(text)}' is too large a number";
            if (whole && Math.Floor(d) != d)
                return $"'{text}' is not a whole number";
            number = d;
            return null;
        }

        private static string Shorten(string text) => text == null ? "" : text.Length <= 40 ? text : text.Substring(0, 37) + "...";

        private static object Unwrap(object value) => value is PSObject wrapped ? wrapped.BaseObject : value;
    }

    /// <summary>
    /// For count, limit, port and id parameters ([int], [long], their arrays): whole numbers only, through the one
    /// conversion of <see cref="NumberArgumentAttribute"/>.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class WholeNumberAttribute : NumberArgumentAttribute
    {
        /// <summary>Whole numbers only.</summary>
        public WholeNumberAttribute() : base(whole: true) { }
    }

    /// <summary>
    /// For *Sec parameters ([double]): a finite number of seconds, fractions allowed, through the one conversion of
    /// <see cref="NumberArgumentAttribute"/>; the range is checked by ValidateRange or <see cref="ValidateSecondsAttribute"/>.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class SecondsAttribute : NumberArgumentAttribute
    {
        /// <summary>Seconds, fractions allowed.</summary>
        public SecondsAttribute() : base(whole: false) { }
    }

    /// <summary>
    /// For the server's *Sec parameters ([double]): a finite number of seconds from 0 to a maximum, fractions allowed.
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
