// Writes the published JSON Schemas in schema/ from their definitions in the code.
import { writeFileSync } from 'node:fs';
import { CODEMODE_CONFIG_JSON_SCHEMA } from '../src/codemode/config.js';
import { settingsJsonSchema } from '../src/config/settings.js';

const write = (file: string, schema: unknown) => writeFileSync(file, JSON.stringify(schema, null, 2) + '\n');
write('schema/codemode.settings.schema.json', settingsJsonSchema());
write('schema/mcp-servers.schema.json', CODEMODE_CONFIG_JSON_SCHEMA);
