import { Command } from 'commander';
import Table from 'cli-table3';
import { openArtifactStore } from '../../artifacts/store';
import { projectPaths } from '../../config/paths';
import { addModel, DEFAULT_INVENTORY_KEY, type Inventory, readInventory, removeModel } from '../../inventory';

/**
 * `stowage models add|remove|list`: edits the model inventory that `repack` (and its schedules) keep the
 * fleet in step with. Edits go straight to the artifact store; the next repack run picks them up.
 */

interface InventoryFlags {
  inventory: string;
  json?: boolean;
}

function withInventoryFlags(command: Command): Command {
  return command
    .option('--inventory <key>', 'artifact key of the inventory', DEFAULT_INVENTORY_KEY)
    .option('--json', 'print one JSON document');
}

function store() {
  return openArtifactStore(projectPaths().artifacts);
}

function printEdit(what: string, inventory: Inventory, json?: boolean): void {
  process.stdout.write(
    json
      ? `${JSON.stringify({ inventory: inventory.key, models: inventory.models.length, sha256: inventory.sha256 })}\n`
      : `${what}; ${inventory.key} lists ${inventory.models.length} model(s)\n`,
  );
}

export function modelsCommand(): Command {
  const models = new Command('models').description(
    'edit the model inventory that repack keeps the fleet in step with',
  );
  models.addCommand(
    withInventoryFlags(new Command('add'))
      .description(
        'add a model (refused when the id is taken or the entry is invalid; nothing is written then)',
      )
      .argument('<id>', 'model id: lowercase letters, digits and "-"')
      .argument('<source>', 'a Hugging Face name, a folder in Hugging Face layout, or a TorchScript file')
      .action(async (id: string, source: string, flags: InventoryFlags) => {
        printEdit(`added ${id}`, await addModel(store(), { id, source }, flags.inventory), flags.json);
      }),
  );
  models.addCommand(
    withInventoryFlags(new Command('remove'))
      .description('remove a model (its server goes at the next repack)')
      .argument('<id>', 'model id')
      .action(async (id: string, flags: InventoryFlags) => {
        printEdit(`removed ${id}`, await removeModel(store(), id, flags.inventory), flags.json);
      }),
  );
  models.addCommand(
    withInventoryFlags(new Command('list'))
      .description('list the models of the inventory')
      .action(async (flags: InventoryFlags) => {
        const inventory = await readInventory(store(), flags.inventory);
        const list = inventory?.models ?? [];
        if (flags.json) {
          process.stdout.write(
            `${JSON.stringify({ inventory: flags.inventory, sha256: inventory?.sha256 ?? null, models: list })}\n`,
          );
          return;
        }
        if (list.length === 0) {
          process.stdout.write(`${flags.inventory} lists no model yet: stowage models add <id> <source>\n`);
          return;
        }
        const table = new Table({ head: ['id', 'source'] });
        for (const m of list) table.push([m.id, m.source]);
        process.stdout.write(`${table.toString()}\n${list.length} model(s) in ${flags.inventory}\n`);
      }),
  );
  return models;
}
