import { parseTemplate } from '@platform/template';

// Regression: a bare variable as an argument used to crash the compiler with a TypeError.
describe('variables as arguments', () => {
  it.each([
    ['{{ $r := . }}{{ print $r.A $r }}', 'amap[A:a]'],
    ['{{ print $ }}', 'map[A:a]'],
    ['{{ $x := "v" }}{{ quote $x }}', '"v"'],
    ['{{ $x := "v" }}{{ $x | quote }}', '"v"'],
  ])('%s', (source, expected) => {
    expect(parseTemplate(source).execute({ A: 'a' })).toBe(expected);
  });

  it('still refuses arguments to a variable, as Go does', () => {
    expect(() => parseTemplate('{{ $x := 1 }}{{ $x 2 }}').execute({})).toThrow(
      expect.objectContaining({
        goMessage: 'template: template:1:16: executing "template" at <$x>: can\'t give argument to non-function $x',
      }),
    );
  });
});
