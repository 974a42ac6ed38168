/**
 * What the pipeline tests share: a pipeline, launches and executions with
 * defaults, a fake `IPipelinesClient` (answers launches, records what was
 * posted), and `render`, which expands a React tree without a DOM.
 */
import React from 'react';

import type {
  ILaunch,
  IPipeline,
  IPipelinesClient
} from '../../labextension/src/api/pipelines';
import type { ISchedulesClient } from '../../labextension/src/api/schedules';

export const PIPELINE: IPipeline = {
  path: 'examples/pipeline/exported',
  name: 'breast-cancer',
  steps: [
    {
      name: 'prepare',
      notebook: 'notebooks/prepare.ipynb',
      depends_on: [],
      parameters: {
        test_size: { type: 'float', default: 0.25, annotation: 'float' },
        seed: { type: 'int', default: 42 }
      }
    },
    {
      name: 'train',
      notebook: 'notebooks/train.ipynb',
      depends_on: ['prepare'],
      parameters: {
        model: { type: 'str', default: 'gbm' },
        early_stop: { type: 'bool', default: true },
        layers: { type: 'list', default: [64, 32] },
        extra: { type: 'dict', default: { a: 1 } },
        n_rows: { type: 'any', default: null, literal: false }
      }
    }
  ]
};

export function execution(
  index: number,
  overrides: Partial<ILaunch['executions'][number]> = {}
): ILaunch['executions'][number] {
  return {
    index,
    trial: 0,
    step: 'prepare',
    parameters: { test_size: 0.25 },
    status: 'PENDING',
    reason: null,
    error: null,
    run_id: null,
    output: null,
    duration: null,
    ...overrides
  };
}

export function launch(
  id: string,
  status: ILaunch['status'],
  executions = [execution(0)]
): ILaunch {
  return {
    id,
    path: PIPELINE.path,
    name: PIPELINE.name,
    status,
    run_id: 'parent1',
    experiment_id: '1',
    started: 1_700_000_000,
    ended: null,
    error: null,
    executions
  };
}

/** A fake client: answers from `launches` by id, records what was posted. */
export function fakeClient(options: {
  pipelines?: IPipeline[];
  launch?: (body: unknown) => Promise<ILaunch>;
  getLaunch?: (id: string) => Promise<ILaunch>;
  schedules?: ISchedulesClient;
}): IPipelinesClient & { posted: unknown[] } {
  const posted: unknown[] = [];
  return {
    posted,
    pipelines: async () => ({
      pipelines: options.pipelines ?? [PIPELINE],
      truncated: false
    }),
    notebookParameters: async () => {
      throw new Error('unused');
    },
    exportPipeline: async () => {
      throw new Error('unused');
    },
    launch: async body => {
      posted.push(body);
      return options.launch ? options.launch(body) : launch('l1', 'RUNNING');
    },
    launches: async () => [],
    getLaunch: async id =>
      options.getLaunch ? options.getLaunch(id) : launch(id, 'RUNNING'),
    cancel: async id => launch(id, 'KILLED'),
    schedules: options.schedules
  };
}

export interface IRendered {
  elements: { type: string; props: Record<string, unknown> }[];
  text: string;
}

/**
 * Expand a React tree without a DOM: function components are called (the
 * ones rendered here use no hooks), host elements collected with their
 * props, strings joined.
 */
export function render(node: React.ReactNode): IRendered {
  const out: IRendered = { elements: [], text: '' };
  const walk = (n: unknown): void => {
    if (n === null || n === undefined || typeof n === 'boolean') {
      return;
    }
    if (typeof n === 'string' || typeof n === 'number') {
      out.text += String(n);
      return;
    }
    if (Array.isArray(n)) {
      n.forEach(walk);
      return;
    }
    if (React.isValidElement(n)) {
      const element = n as React.ReactElement<Record<string, unknown>>;
      if (typeof element.type === 'function') {
        walk((element.type as (p: unknown) => React.ReactNode)(element.props));
        return;
      }
      if (typeof element.type === 'string') {
        out.elements.push({ type: element.type, props: element.props });
      }
      walk(element.props.children);
    }
  };
  walk(node);
  return out;
}

export function byTestId(
  rendered: IRendered,
  id: string
): IRendered['elements'] {
  return rendered.elements.filter(e => e.props['data-testid'] === id);
}
