// @npmcli/package-json ships no type declarations; only what flotilla calls is declared.
declare module "@npmcli/package-json" {
  const PackageJson: {
    normalize(dir: string, opts: { steps: string[] }): Promise<{ content: Record<string, unknown> & { readme?: string } }>;
  };
  export default PackageJson;
}
