package io.nodemesh.proxy.identity;

import java.security.PrivateKey;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * Unencrypted PEM private keys in the forms CA directories and kubeconfigs hold them: PKCS#8 ({@code BEGIN PRIVATE
 * KEY}) and the traditional PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) and SEC1 ({@code BEGIN EC PRIVATE KEY}).
 */
public final class PemKeys {

    private PemKeys() {
    }

    /**
     * The private key that {@code pem}, an object Bouncy Castle's {@code PEMParser} read, is; null when it is none of
     * those forms (a certificate, an encrypted key).
     */
    public static PrivateKey privateKey(Object pem) throws PEMException {
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        if (pem instanceof PrivateKeyInfo info) {
            return converter.getPrivateKey(info);
        }
        if (pem instanceof PEMKeyPair pair) {
            return converter.getPrivateKey(pair.getPrivateKeyInfo()); // SEC1 may leave the public key out
        }
        return null;
    }
}
