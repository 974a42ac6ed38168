/**
 * User columns saved in the settings: "column" in a run's details and "hide"
 * in the runs table write the `columns` setting (checked against the
 * plugin's schema), so they survive a reload; the model shows a change at
 * once.
 */
import { Signal } from '@lumino/signaling';

import { RunsClient } from '../../labextension/src/api/runs';
import { RunsModel } from '../../labextension/src/runs/model';
import { columnStore, parseSettings } from '../../labextension/src/settings';
import { json, makeRun, subjectClientWith } from './fixtures';

declare const require: (path: string) => unknown;
/** The plugin's schema: a save must match its `columns` property. */
const SCHEMA = require('../../labextension/schema/plugin.json') as {
  properties: {
    columns: { items: { pattern: string }; uniqueItems: boolean };
  };
};

/** The user's settings file (its JSON text), as JupyterLab saves it. */
class SettingsFile {
  raw = '{}';
  saves = 0;
}

/**
 * One page load's view of the settings: `set` validates and writes the
 * file, then `changed` fires, as JupyterLab's `ISettings` does.
 */
class Settings {
  constructor(readonly file: SettingsFile) {}

  readonly changed = new Signal<this, void>(this);

  get composite(): Record<string, unknown> {
    return JSON.parse(this.file.raw);
  }

  async set(key: string, value: unknown): Promise<void> {
    await Promise.resolve();
    const rule = SCHEMA.properties.columns;
    const pattern = new RegExp(rule.items.pattern);
    if (
      key !== 'columns' ||
      !Array.isArray(value) ||
      !value.every(v => typeof v === 'string' && pattern.test(v)) ||
      new Set(value).size !== value.length
    ) {
      throw new Error(`invalid ${key}: ${JSON.stringify(value)}`);
    }
    this.file.raw = JSON.stringify({ ...this.composite, [key]: value });
    this.file.saves++;
    this.changed.emit();
  }
}

/** The runs client over a server that holds one run (fetch answered in memory). */
function runsClient(): RunsClient {
  const run = makeRun('a', {
    params: { lr: '0.1' },
    metrics: { accuracy: 0.9 }
  });
  return subjectClientWith(RunsClient, url => {
    const route = url.pathname.split('/jupyter-mlops/api/')[1];
    if (route === 'health') {
      return json({ version: '0', tracking_uri: 'sqlite:///x.db' });
    }
    if (route === 'experiments') {
      return json({ experiments: [{ experiment_id: '1', name: 'e' }] });
    }
    return json({ runs: [run], next_page_token: null });
  }).client;
}

/**
 * A page load: the plugin loads its settings and wires the model as
 * `index.ts` does (columns saved through `columnStore`, setting changes
 * applied with `setBaseColumns`).
 */
async function load(file: SettingsFile): Promise<{
  model: RunsModel;
  settings: Settings;
}> {
  const loading = Promise.resolve(new Settings(file));
  const model = new RunsModel({ client: runsClient() });
  model.columnStore = columnStore(loading);
  const settings = await loading;
  const apply = (): void =>
    model.setBaseColumns(parseSettings(settings.composite).columns);
  apply();
  settings.changed.connect(apply);
  return { model, settings };
}

describe('user columns in the settings', () => {
  it('saves an added column, keeps it across a reload, and hides it for good', async () => {
    const file = new SettingsFile();
    file.raw = JSON.stringify({ columns: ['metrics.accuracy'] });
    const first = await load(file);
    expect(first.model.columns).toEqual(['metrics.accuracy']);

    let shown: string[] = [];
    first.model.changed.connect(() => (shown = [...first.model.columns]));
    expect(first.model.addColumn('params.lr')).toBe(true);
    // shown at once ("in list" in the details), before the save lands
    expect(shown).toEqual(['metrics.accuracy', 'params.lr']);
    await new Promise(resolve => first.settings.changed.connect(resolve));
    expect(JSON.parse(file.raw).columns).toEqual([
      'metrics.accuracy',
      'params.lr'
    ]);

    const second = await load(file);
    expect(second.model.columns).toEqual(['metrics.accuracy', 'params.lr']);
    second.model.removeColumn('metrics.accuracy');
    expect(second.model.columns).toEqual(['params.lr']);
    await new Promise(resolve => second.settings.changed.connect(resolve));

    const third = await load(file);
    expect(third.model.columns).toEqual(['params.lr']);
    expect(JSON.parse(file.raw).columns).toEqual(['params.lr']);
  });

  it('writes nothing for a key that is not a column, or one already shown', async () => {
    const file = new SettingsFile();
    const { model } = await load(file);
    expect(model.addColumn('accuracy')).toBe(false);
    model.removeColumn('params.nothing');
    expect(model.columns).toEqual([]);
    expect(file.saves).toBe(0);
    model.addColumn('tags.epic');
    await new Promise(resolve => setTimeout(resolve, 0));
    const saves = file.saves;
    expect(model.addColumn('tags.epic')).toBe(true);
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(file.saves).toBe(saves);
    expect(model.columns).toEqual(['tags.epic']);
  });

  it('keeps a quick second change while the first is saving', async () => {
    const file = new SettingsFile();
    const { model, settings } = await load(file);
    let saved = 0;
    const twoSaves = new Promise<void>(resolve =>
      settings.changed.connect(() => ++saved === 2 && resolve())
    );
    model.addColumn('metrics.accuracy');
    model.addColumn('params.lr');
    const both = ['metrics.accuracy', 'params.lr'];
    expect(model.columns).toEqual(both);
    const seen: string[][] = [];
    model.changed.connect(() => seen.push([...model.columns]));
    settings.changed.connect(() => seen.push([...model.columns]));
    await twoSaves;
    // the first save's setting (one column) never shows in between
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every(ids => ids.join() === both.join())).toBe(true);
    expect(JSON.parse(file.raw).columns).toEqual([
      'metrics.accuracy',
      'params.lr'
    ]);
  });

  it('puts the sort back to the default when the sorted column is hidden', async () => {
    const { model } = await load(new SettingsFile());
    model.addColumn('metrics.accuracy');
    await model.sortBy('metrics.accuracy');
    expect(model.sort.key).toBe('metrics.accuracy');
    model.removeColumn('metrics.accuracy');
    expect(model.sort.key).toBe('start_time');
  });

  it('keeps a change for the session when there is nowhere to save it', () => {
    const model = new RunsModel({ client: runsClient() });
    model.setBaseColumns(['params.lr']);
    model.addColumn('metrics.loss');
    model.removeColumn('params.lr');
    expect(model.columns).toEqual(['metrics.loss']);
    model.setBaseColumns(['params.lr']); // the settings changed meanwhile
    expect(model.columns).toEqual(['params.lr']);
  });
});
