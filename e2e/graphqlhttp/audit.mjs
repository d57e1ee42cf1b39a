// Runs graphql-http's server audits against the GraphQL endpoint given as
// the first argument, then reads the endpoint's schema by introspection
// and builds it with graphql-js, which checks that the introspection
// answer is a valid schema. Prints one JSON object: the audits' results
// and the schema in SDL (or the error that kept it from being built).
import { serverAudits } from 'graphql-http';
import { buildClientSchema, getIntrospectionQuery, printSchema } from 'graphql';

const url = process.argv[2];
const audits = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  audits.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? '' });
}
let schema = '', schemaError = '';
try {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: process.argv[3] ? `Bearer ${process.argv[3]}` : '' },
    body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }) }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  schema = printSchema(buildClientSchema(body.data));
} catch (e) {
  schemaError = String(e);
}
console.log(JSON.stringify({ audits, schema, schemaError }));
