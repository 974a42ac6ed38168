import {
  csvField,
  exportFileName,
  exportKeys,
  markdownCell,
  toCsv,
  toMarkdown
} from '../../labextension/src/runs/compareExport';
import {
  checkName,
  checkTag,
  isDeleted,
  isProtectedTag,
  runNote,
  tagEdit,
  userTags
} from '../../labextension/src/runs/runEdit';
import { canWrite } from '../../labextension/src/api/runEdit';
import { makeRun } from './fixtures';

/** RFC 4180 parse of `text` (quoted fields, doubled quotes, CRLF), to read back what was written. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  return rows;
}

describe('comparison export', () => {
  const runs = [
    makeRun('r1', {
      run_name: 'a, "quoted" run',
      params: { lr: '0.1', note: 'line one\nline two', formula: '=1+1' },
      metrics: {
        acc: 0.91,
        loss: null,
        cost_usd: 0.25,
        'system/cpu_percent': 40,
        energy_kwh: 0.01
      }
    }),
    makeRun('r2', {
      run_name: 'b | piped',
      params: { lr: '-0.5', neg: '-x' },
      metrics: { acc: 0.8 }
    })
  ];

  it('exports params, user metrics and cost, never system series', () => {
    expect(exportKeys(runs)).toEqual({
      params: ['formula', 'lr', 'neg', 'note'],
      metrics: ['acc', 'loss'],
      cost: ['cost_usd', 'energy_kwh']
    });
  });

  it('quotes commas, quotes and line breaks in CSV, and reads back the same', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    const text = toCsv(runs);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([
      'run_id',
      'run_name',
      'status',
      'param:formula',
      'param:lr',
      'param:neg',
      'param:note',
      'metric:acc',
      'metric:loss',
      'cost:cost_usd',
      'cost:energy_kwh'
    ]);
    expect(rows[1]).toEqual([
      'r1',
      'a, "quoted" run',
      'FINISHED',
      "'=1+1",
      '0.1',
      '',
      'line one\nline two',
      '0.91',
      '',
      '0.25',
      '0.01'
    ]);
    expect(rows[2]).toEqual([
      'r2',
      'b | piped',
      'FINISHED',
      '',
      '-0.5',
      "'-x",
      '',
      '0.8',
      '',
      '',
      ''
    ]);
    expect(rows).toHaveLength(3);
  });

  it('defuses spreadsheet formulas but keeps negative numbers', () => {
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('-1.5e-3')).toBe('-1.5e-3');
    expect(csvField('-cmd')).toBe("'-cmd");
  });

  it('escapes pipes, backslashes, HTML and line breaks in Markdown', () => {
    expect(markdownCell('a | b')).toBe('a \\| b');
    expect(markdownCell('c:\\tmp')).toBe('c:\\\\tmp');
    expect(markdownCell('<img src=x onerror=alert(1)>')).toBe(
      '&lt;img src=x onerror=alert(1)&gt;'
    );
    expect(markdownCell('one\r\ntwo\nthree')).toBe('one<br>two<br>three');
    const lines = toMarkdown(runs).trimEnd().split('\n');
    expect(lines[0]).toBe('|  | a, "quoted" run | b \\| piped |');
    expect(lines[1]).toBe('| --- | --- | --- |');
    expect(lines).toContain('| run id | r1 | r2 |');
    expect(lines).toContain('| param note | line one<br>line two |  |');
    expect(lines).toContain('| param lr | 0.1 | -0.5 |');
    expect(lines).toContain('| metric acc | 0.91 | 0.8 |');
    expect(lines).toContain('| cost cost_usd | 0.25 |  |');
    expect(lines.some(line => line.includes('system/'))).toBe(false);
    // every row has the same number of unescaped cell separators
    const cells = lines.map(line => line.split(/(?<!\\)\|/).length);
    expect(new Set(cells).size).toBe(1);
  });

  it('names the files after the number of runs', () => {
    expect(exportFileName(2, 'csv')).toBe('mlops-compare-2-runs.csv');
  });
});

describe('run edit checks', () => {
  it('refuses empty, long and multi-line names', () => {
    expect(checkName(' ok ')).toBeNull();
    expect(checkName('   ')).toMatch(/empty/);
    expect(checkName('x'.repeat(251))).toMatch(/250/);
    expect(checkName('a\nb')).toMatch(/one line/);
  });

  it('keeps system tags read-only and checks keys like MLflow', () => {
    expect(isProtectedTag('mlops.project')).toBe(true);
    expect(isProtectedTag('mlflow.note.content')).toBe(true);
    expect(isProtectedTag('team')).toBe(false);
    expect(checkTag('team', 'ds')).toBeNull();
    expect(checkTag('a/b c:d-e.f', 'x')).toBeNull();
    expect(checkTag('mlops.owner', 'x')).toMatch(/read-only/);
    expect(checkTag('bad!', 'x')).toMatch(/letters/);
    expect(checkTag('a//b', 'x')).toMatch(/relative path/);
    expect(checkTag('', 'x')).toMatch(/name/);
    expect(checkTag('k', 'v'.repeat(8001))).toMatch(/8000/);
  });

  it('lists user tags, reads the note and the lifecycle', () => {
    const run = makeRun('r', {
      tags: {
        z: '1',
        a: '2',
        'mlops.project': 'p',
        'mlflow.note.content': '# hi'
      }
    });
    expect(userTags(run.tags)).toEqual([
      ['a', '2'],
      ['z', '1']
    ]);
    expect(runNote(run)).toBe('# hi');
    expect(runNote(makeRun('s'))).toBe('');
    expect(isDeleted({ lifecycle_stage: 'deleted' })).toBe(true);
    expect(isDeleted({})).toBe(false);
  });

  it('turns a tag edit into one request, renaming by set + delete', () => {
    expect(tagEdit('k', 'v')).toEqual({ set: { k: 'v' } });
    expect(tagEdit('k', 'v', 'k')).toEqual({ set: { k: 'v' } });
    expect(tagEdit('new', 'v', 'old')).toEqual({
      set: { new: 'v' },
      delete: ['old']
    });
  });

  it('reads the write permission from /api/me', () => {
    expect(canWrite({ permissions: { 'mlops:runs': ['write'] } })).toBe(true);
    expect(canWrite({ permissions: { 'mlops:runs': [] } })).toBe(false);
    expect(canWrite({ identity: {} })).toBe(false);
    expect(canWrite(null)).toBe(false);
  });
});
