import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM material for the TLS test servers, made fresh for each test run. */
export interface TestCerts {
  dir: string;
  /** The test CA that signs `localhost` and `wrong`; tests trust it. */
  caCert: string;
  /** Leaf for DNS:localhost, DNS:sockkit.test (a name tests map with a fake resolver) and IP:127.0.0.1. */
  localhostCert: string;
  localhostKey: string;
  /** Leaf for DNS:wrong.example only: hostname verification must fail. */
  wrongCert: string;
  wrongKey: string;
  /** Self-signed leaf for localhost that no trusted CA signed. */
  untrustedCert: string;
  untrustedKey: string;
}

const ENV = "SOCKKIT_TEST_CERTS_DIR";

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: "pipe" });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT") {
      throw new Error(
        "The TLS tests need the `openssl` command to make a test CA. Install it (Debian: apt-get install -y openssl).",
      );
    }
    throw new Error(`openssl ${args.join(" ")} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

function leaf(dir: string, name: string, san: string, signWithCa: boolean): void {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`],
    dir,
  );
  const signer = signWithCa ? ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"] : ["-signkey", `${name}.key`];
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, ...signer, "-days", "2", "-sha256", "-extfile", ext, "-out", `${name}.crt`],
    dir,
  );
}

/**
 * Makes (once per process tree, shared through an environment variable) a
 * test CA and the leaf certificates the TLS servers use.
 */
export function ensureTestCerts(): TestCerts {
  let dir = process.env[ENV];
  if (!dir || !existsSync(join(dir, "untrusted.crt"))) {
    dir = mkdtempSync(join(tmpdir(), "sockkit-certs-"));
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=sockkit test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      dir,
    );
    leaf(dir, "localhost", "DNS:localhost,DNS:sockkit.test,IP:127.0.0.1", true);
    leaf(dir, "wrong", "DNS:wrong.example", true);
    leaf(dir, "untrusted", "DNS:localhost,IP:127.0.0.1", false);
    process.env[ENV] = dir;
  }
  const read = (file: string) => readFileSync(join(dir!, file), "utf8");
  return {
    dir,
    caCert: read("ca.crt"),
    localhostCert: read("localhost.crt"),
    localhostKey: read("localhost.key"),
    wrongCert: read("wrong.crt"),
    wrongKey: read("wrong.key"),
    untrustedCert: read("untrusted.crt"),
    untrustedKey: read("untrusted.key"),
  };
}

export function removeTestCerts(certs: TestCerts): void {
  rmSync(certs.dir, { recursive: true, force: true });
}
