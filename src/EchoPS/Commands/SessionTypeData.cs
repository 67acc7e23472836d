using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace EchoPS.Commands
{
    /// <summary>
    /// The module's type data (EchoPS.Types.ps1xml: how its objects serialize), added to a session by its first EchoPS
    /// command instead of by Import-Module. The format views still load with the module (EchoPS.psd1 FormatsToProcess).
    /// </summary>
    /// <remarks>
    /// Measured (issue 22): TypesToProcess cost about 10-20 ms of Import-Module's own cost, the same for a one-entry file
    /// (PowerShell's type-file reader and type-table update run for the first time; this pwsh's
    /// System.Management.Automation is IL only, so that is mostly JIT). The type data only matter where a live EchoPS
    /// object is serialized (enums as names, depths), and every live EchoPS object comes from an EchoPS command of that
    /// session, so adding them at the first command serves every serialization. Views are another matter: deserialized
    /// objects (a job's, a remote session's, Import-Clixml's) reach sessions that ran no EchoPS command, so the views
    /// stay in the manifest. The entries are added as <see cref="TypeData"/> objects: Update-TypeData -TypeData touches
    /// only those types; -AppendPath would reprocess every type file of the session.
    /// </remarks>
    internal static class SessionTypeData
    {
        internal const string TypesFile = "EchoPS.Types.ps1xml";

        // The runspaces (sessions) that have the data: one entry each, dropped with the runspace.
        private static readonly ConditionalWeakTable<Runspace, object> Loaded = new ConditionalWeakTable<Runspace, object>();

        /// <summary>Adds the type data to the command's session, once per session. Never fails the command.</summary>
        internal static void EnsureLoaded(PSCmdlet command)
        {
            Runspace runspace = Runspace.DefaultRunspace;
            if (runspace == null || Loaded.TryGetValue(runspace, out _))
                return;
            lock (Loaded)
            {
                if (Loaded.TryGetValue(runspace, out _))
                    return;
                Loaded.Add(runspace, null);
            }
            try
            {
                string folder = command.MyInvocation.MyCommand.Module?.ModuleBase
                    ?? Path.GetDirectoryName(typeof(SessionTypeData).Assembly.Location);
                string types = Path.Combine(folder, TypesFile);
                if (!File.Exists(types))
                    return;
                using (var shell = PowerShell.Create(RunspaceMode.CurrentRunspace))
                {
                    shell.AddCommand(@"Microsoft.PowerShell.Utility\Update-TypeData").AddParameter("TypeData", ReadTypeData(types).ToArray()).AddParameter("Force");
                    shell.Invoke();
                    foreach (ErrorRecord error in shell.Streams.Error)
                        command.WriteVerbose("EchoPS type data not loaded: " + error);
                }
            }
            catch (Exception e) when (!(e is PipelineStoppedException))
            {
                // A session that forbids type updates (a constrained endpoint) still runs the commands; its objects then
                // serialize with PowerShell's defaults.
                command.WriteVerbose("EchoPS type data not loaded: " + e.Message);
            }
        }

        /// <summary>
        /// The entries of a types file in the forms EchoPS.Types.ps1xml uses: PSStandardMembers notes
        /// (SerializationMethod, SerializationDepth, InheritPropertySerializationSet) and the PropertySerializationSet.
        /// Anything else in the file is an error, so that an entry added in another form is not silently ignored.
        /// </summary>
        internal static IEnumerable<TypeData> ReadTypeData(string path)
        {
            foreach (XElement type in XDocument.Load(path).Root.Elements("Type"))
            {
                var data = new TypeData(((string)type.Element("Name")).Trim());
                var members = type.Element("Members")?.Elements() ?? Enumerable.Empty<XElement>();
                foreach (XElement set in members)
                {
                    if (set.Name != "MemberSet" || (string)set.Element("Name") != "PSStandardMembers")
                        throw new FormatException($"{path}: {data.TypeName}: only PSStandardMembers entries are read at run time, not {set.Name} {(string)set.Element("Name")}.");
                    foreach (XElement member in set.Element("Members").Elements())
                        Apply(data, member, path);
                }
                yield return data;
            }
        }

        private static void Apply(TypeData data, XElement member, string path)
        {
            string name = ((string)member.Element("Name"))?.Trim();
            if (member.Name == "NoteProperty")
            {
                string value = ((string)member.Element("Value"))?.Trim();
                switch (name)
                {
                    case "SerializationMethod": data.SerializationMethod = value; return;
                    case "SerializationDepth": data.SerializationDepth = uint.Parse(value, System.Globalization.CultureInfo.InvariantCulture); return;
                    case "InheritPropertySerializationSet": data.InheritPropertySerializationSet = bool.Parse(value); return;
                }
            }
            else if (member.Name == "PropertySet" && name == "PropertySerializationSet")
            {
                data.PropertySerializationSet = new PropertySetData(member.Element("ReferencedProperties").Elements("Name").Select(p => p.Value.Trim()).ToArray());
                return;
            }
            throw new FormatException($"{path}: {data.TypeName}: the run-time reader does not know {member.Name} {name}.");
        }
    }
}
