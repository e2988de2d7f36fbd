/**
 * purezmq/mdp/node: the Node-only parts of the Majordomo security (they read and write files with
 * node:fs), kept out of purezmq/mdp so that importing it never loads node:fs.
 */
export { readCertificateFile, writeCertificatePair, newCertificate, CertificateStore, type CertificateRead, type KnownCertificate } from './security/certfile.ts';
export { openBrokerSecurity } from './security/setup.ts';
