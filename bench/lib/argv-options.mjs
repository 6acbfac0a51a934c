/** `--name value` options and `--name` flags taken out of argv (what is left are the positional arguments). */
export function argvOptions(argv = process.argv.slice(2)) {
  const opt = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return dflt;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const flag = (name) => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return false;
    argv.splice(i, 1);
    return true;
  };
  return { argv, opt, flag };
}
