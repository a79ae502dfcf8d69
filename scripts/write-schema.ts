// Writes schema/codemode.settings.schema.json from the settings definition.
import { writeFileSync } from 'node:fs';
import { settingsJsonSchema } from '../src/config/settings.js';

writeFileSync('schema/codemode.settings.schema.json', JSON.stringify(settingsJsonSchema(), null, 2) + '\n');
