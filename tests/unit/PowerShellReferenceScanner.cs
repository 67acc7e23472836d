using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace EchoPS.Tests
{
    /// <summary>
    /// Reads a built assembly's metadata (never loading it) and lists every place where a type outside the given
    /// PowerShell-layer namespaces uses System.Management.Automation or a type of that layer: base types and
    /// interfaces, generic constraints, field, property, event and method signatures, custom attributes, locals,
    /// exception handlers, and every type, method and field token in the IL of its method bodies.
    /// </summary>
    internal sealed class PowerShellReferenceScanner : ISignatureTypeProvider<string, object>
    {
        /// <summary>The assembly that PowerShellStandard.Library (and PowerShell itself) puts the PowerShell API in.</summary>
        internal const string PowerShellAssembly = "System.Management.Automation";

        private static readonly Dictionary<short, OpCode> s_opCodes = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null))
            .ToDictionary(o => o.Value);

        private readonly PEReader _pe;
        private readonly MetadataReader _md;
        private readonly string[] _layer;

        private PowerShellReferenceScanner(PEReader pe, string[] powerShellLayer)
        {
            _pe = pe;
            _md = pe.GetMetadataReader();
            _layer = powerShellLayer;
        }

        /// <summary>Every use of PowerShell by a type outside <paramref name="powerShellLayer"/>, one line each.</summary>
        internal static IReadOnlyList<string> Scan(string assemblyPath, params string[] powerShellLayer)
        {
            using (var stream = File.OpenRead(assemblyPath))
            using (var pe = new PEReader(stream))
                return new PowerShellReferenceScanner(pe, powerShellLayer).ScanEngine();
        }

        /// <summary>The names of the types that count as engine: every type outside the PowerShell layer.</summary>
        internal static IReadOnlyList<string> EngineTypes(string assemblyPath, params string[] powerShellLayer)
        {
            using (var stream = File.OpenRead(assemblyPath))
            using (var pe = new PEReader(stream))
            {
                var scanner = new PowerShellReferenceScanner(pe, powerShellLayer);
                return scanner._md.TypeDefinitions.Where(t => !scanner.InLayer(t)).Select(scanner.NameOf).ToList();
            }
        }

        private List<string> ScanEngine()
        {
            var found = new List<string>();
            foreach (var handle in _md.TypeDefinitions.Where(t => !InLayer(t)))
            {
                var type = _md.GetTypeDefinition(handle);
                var name = NameOf(handle);
                void Check(string where, string what)
                {
                    if (what != null)
                        found.Add($"{name}: {where} uses {what}");
                }

                Check("its base type", type.BaseType.IsNil ? null : Forbidden(type.BaseType));
                foreach (var i in type.GetInterfaceImplementations())
                    Check("an interface", Forbidden(_md.GetInterfaceImplementation(i).Interface));
                Check("a generic constraint", Constraints(type.GetGenericParameters()));
                Check("an attribute", Attributes(type.GetCustomAttributes()));

                foreach (var f in type.GetFields())
                {
                    var field = _md.GetFieldDefinition(f);
                    var where = $"field {_md.GetString(field.Name)}";
                    Check(where, field.DecodeSignature(this, null));
                    Check(where, Attributes(field.GetCustomAttributes()));
                }
                foreach (var p in type.GetProperties())
                {
                    var property = _md.GetPropertyDefinition(p);
                    var where = $"property {_md.GetString(property.Name)}";
                    Check(where, FirstOf(property.DecodeSignature(this, null)));
                    Check(where, Attributes(property.GetCustomAttributes()));
                }
                foreach (var e in type.GetEvents())
                {
                    var @event = _md.GetEventDefinition(e);
                    Check($"event {_md.GetString(@event.Name)}", Forbidden(@event.Type));
                }
                foreach (var m in type.GetMethods())
                {
                    var method = _md.GetMethodDefinition(m);
                    var where = $"{_md.GetString(method.Name)}()";
                    Check(where, FirstOf(method.DecodeSignature(this, null)));
                    Check(where, Attributes(method.GetCustomAttributes()));
                    Check(where, Constraints(method.GetGenericParameters()));
                    foreach (var p in method.GetParameters())
                        Check(where, Attributes(_md.GetParameter(p).GetCustomAttributes()));
                    if (method.RelativeVirtualAddress == 0)
                        continue;
                    try
                    {
                        foreach (var what in Body(_pe.GetMethodBody(method.RelativeVirtualAddress)))
                            Check(where, what);
                    }
                    catch (Exception ex)
                    {
                        throw new InvalidOperationException($"Cannot read the IL of {name}.{where}: {ex.Message}", ex);
                    }
                }
            }
            return found.Distinct().ToList();
        }

        private IEnumerable<string> Body(MethodBodyBlock body)
        {
            if (!body.LocalSignature.IsNil)
                yield return _md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null).FirstOrDefault(t => t != null);
            foreach (var region in body.ExceptionRegions)
                yield return region.CatchType.IsNil ? null : Forbidden(region.CatchType);

            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                short value = il.ReadByte();
                if (value == 0xFE)
                    value = unchecked((short)(0xFE00 | il.ReadByte()));
                var opCode = s_opCodes[value];
                switch (opCode.OperandType)
                {
                    case OperandType.InlineField:
                    case OperandType.InlineMethod:
                    case OperandType.InlineTok:
                    case OperandType.InlineType:
                        yield return Forbidden(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    case OperandType.InlineSig:
                        var signature = _md.GetStandaloneSignature((StandaloneSignatureHandle)MetadataTokens.EntityHandle(il.ReadInt32()));
                        yield return FirstOf(signature.DecodeMethodSignature(this, null));
                        break;
                    case OperandType.InlineSwitch:
                        int targets = il.ReadInt32(); // read first: "Offset += 4 * ReadInt32()" would read Offset before the count
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget:
                    case OperandType.ShortInlineI:
                    case OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8:
                    case OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    default: // InlineBrTarget, InlineI, InlineString, ShortInlineR
                        il.Offset += 4;
                        break;
                }
            }
        }

        private string Attributes(CustomAttributeHandleCollection attributes) =>
            attributes.Select(a => Forbidden(_md.GetCustomAttribute(a).Constructor)).FirstOrDefault(x => x != null);

        private string Constraints(GenericParameterHandleCollection parameters) =>
            parameters.SelectMany(p => _md.GetGenericParameter(p).GetConstraints())
                .Select(c => Forbidden(_md.GetGenericParameterConstraint(c).Type)).FirstOrDefault(x => x != null);

        private static string FirstOf(MethodSignature<string> signature) =>
            signature.ReturnType ?? signature.ParameterTypes.FirstOrDefault(t => t != null);

        /// <summary>The PowerShell type a type, method or field token names or uses in its signature; null when none.</summary>
        private string Forbidden(EntityHandle handle)
        {
            switch (handle.Kind)
            {
                case HandleKind.TypeReference:
                    var reference = _md.GetTypeReference((TypeReferenceHandle)handle);
                    var scope = reference.ResolutionScope;
                    bool fromPowerShell = _md.GetString(reference.Namespace).StartsWith(PowerShellAssembly, StringComparison.Ordinal)
                        || (scope.Kind == HandleKind.AssemblyReference
                            && _md.GetString(_md.GetAssemblyReference((AssemblyReferenceHandle)scope).Name) == PowerShellAssembly);
                    if (fromPowerShell)
                        return $"{_md.GetString(reference.Namespace)}.{_md.GetString(reference.Name)}";
                    return scope.Kind == HandleKind.TypeReference ? Forbidden((EntityHandle)scope) : null;
                case HandleKind.TypeDefinition:
                    return InLayer((TypeDefinitionHandle)handle) ? NameOf((TypeDefinitionHandle)handle) : null;
                case HandleKind.TypeSpecification:
                    return _md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
                case HandleKind.MemberReference:
                    var member = _md.GetMemberReference((MemberReferenceHandle)handle);
                    return Forbidden(member.Parent) ?? (member.GetKind() == MemberReferenceKind.Field
                        ? member.DecodeFieldSignature(this, null)
                        : FirstOf(member.DecodeMethodSignature(this, null)));
                case HandleKind.MethodDefinition:
                    var method = _md.GetMethodDefinition((MethodDefinitionHandle)handle);
                    return Forbidden(method.GetDeclaringType()) ?? FirstOf(method.DecodeSignature(this, null));
                case HandleKind.FieldDefinition:
                    var field = _md.GetFieldDefinition((FieldDefinitionHandle)handle);
                    return Forbidden(field.GetDeclaringType()) ?? field.DecodeSignature(this, null);
                case HandleKind.MethodSpecification:
                    var specification = _md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    return Forbidden(specification.Method)
                        ?? specification.DecodeSignature(this, null).FirstOrDefault(t => t != null);
                default:
                    return null;
            }
        }

        private bool InLayer(TypeDefinitionHandle handle)
        {
            var ns = RootNamespaceOf(handle);
            return _layer.Any(layer => ns == layer || ns.StartsWith(layer + ".", StringComparison.Ordinal));
        }

        /// <summary>A nested type (a lambda's closure, an iterator) belongs to the namespace of its outermost type.</summary>
        private string RootNamespaceOf(TypeDefinitionHandle handle)
        {
            var type = _md.GetTypeDefinition(handle);
            var declaring = type.GetDeclaringType();
            return declaring.IsNil ? _md.GetString(type.Namespace) : RootNamespaceOf(declaring);
        }

        private string NameOf(TypeDefinitionHandle handle)
        {
            var type = _md.GetTypeDefinition(handle);
            var declaring = type.GetDeclaringType();
            var prefix = declaring.IsNil ? _md.GetString(type.Namespace) : NameOf(declaring);
            return (prefix.Length > 0 ? prefix + (declaring.IsNil ? "." : "+") : "") + _md.GetString(type.Name);
        }

        // ISignatureTypeProvider: a type in a signature becomes the name of the PowerShell type it uses, or null.
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => null;
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => Forbidden(handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => Forbidden(handle);
        public string GetTypeFromSpecification(MetadataReader reader, object context, TypeSpecificationHandle handle, byte rawTypeKind) => Forbidden(handle);
        public string GetSZArrayType(string elementType) => elementType;
        public string GetArrayType(string elementType, ArrayShape shape) => elementType;
        public string GetByReferenceType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            genericType ?? typeArguments.FirstOrDefault(t => t != null);
        public string GetGenericMethodParameter(object context, int index) => null;
        public string GetGenericTypeParameter(object context, int index) => null;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType ?? modifier;
        public string GetFunctionPointerType(MethodSignature<string> signature) => FirstOf(signature);
    }
}
